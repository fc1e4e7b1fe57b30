/**
 * The message protocol between the Electron main process and the utility process that runs the
 * app core (training happens there, off the main and renderer threads). Both ends are plain
 * functions over a minimal port interface, so a test can connect them without Electron.
 */
import type { AppEvent, ApiMethod, Result } from '../app/contract.js';
import type { Dispatch } from '../app/dispatch.js';
import type { Identity } from '../core/crypto/index.js';

export interface CoreInit {
  stateDir: string;
  version: string;
  identity: Identity;
}

export type ToCore = { type: 'init'; init: CoreInit } | { type: 'call'; id: number; method: ApiMethod; arg: unknown };
export type FromCore =
  | { type: 'ready' }
  | { type: 'reply'; id: number; result: Result<unknown> }
  | { type: 'event'; event: AppEvent }
  | { type: 'fatal'; message: string };

/** The main process's view of the utility process (Electron's UtilityProcess fits it). */
export interface ChildLike {
  postMessage(message: ToCore): void;
  on(event: 'message', listener: (message: FromCore) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

export interface CoreBridge {
  ready: Promise<void>;
  call(method: ApiMethod, arg: unknown): Promise<Result<unknown>>;
  onEvent(listener: (event: AppEvent) => void): void;
}

const STOPPED: Result<never> = {
  ok: false,
  error: { code: 'internal', message: 'The part of Covey that trains and talks to the server has stopped. Restart the app; your ledger is safe on disk.' },
};

/** Main side: starts the core with `init`, then forwards calls and hands back replies and events. */
export function connectCore(child: ChildLike, init: CoreInit): CoreBridge {
  let nextId = 1;
  let stopped = false;
  const pending = new Map<number, (result: Result<unknown>) => void>();
  const listeners: ((event: AppEvent) => void)[] = [];
  let markReady!: () => void;
  let markFailed!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  ready.catch(() => {});
  child.on('message', (message: FromCore) => {
    switch (message.type) {
      case 'ready':
        return markReady();
      case 'reply':
        pending.get(message.id)?.(message.result);
        pending.delete(message.id);
        return;
      case 'event':
        for (const listener of listeners) listener(message.event);
        return;
      case 'fatal':
        markFailed(new Error(message.message));
        return;
    }
  });
  child.on('exit', () => {
    stopped = true;
    markFailed(new Error('the core process exited'));
    for (const resolve of pending.values()) resolve(STOPPED);
    pending.clear();
  });
  child.postMessage({ type: 'init', init });
  return {
    ready,
    async call(method, arg) {
      if (stopped) return STOPPED;
      try {
        await ready;
      } catch {
        return STOPPED;
      }
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.postMessage({ type: 'call', id, method, arg });
      });
    },
    onEvent(listener) {
      listeners.push(listener);
    },
  };
}

/** The utility process's view of its parent (Electron's process.parentPort fits it). */
export interface ParentLike {
  postMessage(message: FromCore): void;
  on(event: 'message', listener: (message: { data: ToCore }) => void): unknown;
}

/** Utility side: waits for `init`, starts the core, then serves calls and streams events. */
export function serveCore(
  parent: ParentLike,
  start: (init: CoreInit) => Promise<{ dispatch: Dispatch; subscribe: (listener: (event: AppEvent) => void) => void }>,
): void {
  let served: Promise<Dispatch> | null = null;
  parent.on('message', ({ data }) => {
    if (data.type === 'init' && !served) {
      served = start(data.init).then(
        ({ dispatch, subscribe }) => {
          subscribe((event) => parent.postMessage({ type: 'event', event }));
          parent.postMessage({ type: 'ready' });
          return dispatch;
        },
        (err: Error) => {
          parent.postMessage({ type: 'fatal', message: err.message });
          throw err;
        },
      );
      served.catch(() => {});
      return;
    }
    if (data.type === 'call' && served) {
      const { id, method, arg } = data;
      void served
        .then((dispatch) => dispatch(method, arg))
        .then((result) => parent.postMessage({ type: 'reply', id, result }), () => parent.postMessage({ type: 'reply', id, result: STOPPED }));
    }
  });
}
