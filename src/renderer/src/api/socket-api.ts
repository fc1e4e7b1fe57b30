/**
 * `CoveyApi` over the browser-mode WebSocket (`covey app --browser`): one JSON message per call,
 * answered by id; app events pushed as `{ event }`. The page's cookie (set from the one-time
 * link) is what admits this socket; the server checks it and the Origin.
 */
import { API_METHODS, type AppEvent, type CoveyApi, type Result } from '../../../app/contract.js';

export interface SocketApiOptions {
  /** Called once if the connection to the app process is lost. */
  onClose?: () => void;
  WebSocketImpl?: typeof WebSocket;
}

const LOST: Result<never> = {
  ok: false,
  error: {
    code: 'internal',
    message: 'Lost the connection to the Covey app process. Start `covey app --browser` again and open the new link.',
  },
};

export function createSocketApi(url: string, options: SocketApiOptions = {}): CoveyApi {
  const Impl = options.WebSocketImpl ?? WebSocket;
  const socket = new Impl(url);
  let nextId = 1;
  let closed = false;
  const pending = new Map<number, (result: Result<unknown>) => void>();
  const listeners = new Set<(event: AppEvent) => void>();
  const opened = new Promise<boolean>((resolve) => {
    socket.addEventListener('open', () => resolve(true));
    socket.addEventListener('close', () => resolve(false));
  });
  socket.addEventListener('message', (message: MessageEvent) => {
    let data: { id?: number; result?: Result<unknown>; event?: AppEvent };
    try {
      data = JSON.parse(String(message.data)) as typeof data;
    } catch {
      return;
    }
    if (data.event) for (const listener of listeners) listener(data.event);
    if (typeof data.id === 'number' && data.result) {
      pending.get(data.id)?.(data.result);
      pending.delete(data.id);
    }
  });
  socket.addEventListener('close', () => {
    if (closed) return;
    closed = true;
    for (const resolve of pending.values()) resolve(LOST);
    pending.clear();
    options.onClose?.();
  });
  const call = async (method: string, arg: unknown): Promise<Result<unknown>> => {
    if (!(await opened) || closed) return LOST;
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, arg }));
    });
  };
  const api: Record<string, unknown> = {};
  for (const method of API_METHODS) api[method] = (arg?: unknown) => call(method, arg);
  api.onEvent = (listener: (event: AppEvent) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  return api as unknown as CoveyApi;
}

/** The API of this page: Electron's preload, else browser mode's WebSocket, else none. */
export function resolveApi(onClose?: () => void): CoveyApi | null {
  if (window.covey) return window.covey;
  if (location.protocol === 'http:' || location.protocol === 'https:') {
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`;
    return createSocketApi(wsUrl, { onClose });
  }
  return null;
}
