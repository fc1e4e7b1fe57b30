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
}

/** The core asks the main process (which holds the OS key store) for the identity it uses with one server. */
export type ToCore =
  | { type: 'init'; init: CoreInit }
  | { type: 'call'; id: number; method: ApiMethod; arg: unknown }
  | { type: 'identity'; id: number; identity: Identity | null; error?: string };
export type FromCore =
  | { type: 'ready' }
  | { type: 'identity-request'; id: number; serverFingerprint: string }
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

/** Main side: starts the core with `init`, then forwards calls, hands back replies and events, and answers identity requests. */
export function connectCore(child: ChildLike, init: CoreInit, identityFor: (serverFingerprint: string) => Promise<Identity>): CoreBridge {
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
      case 'identity-request':
        void identityFor(message.serverFingerprint).then(
          (identity) => child.postMessage({ type: 'identity', id: message.id, identity }),
          (err: Error) => child.postMessage({ type: 'identity', id: message.id, identity: null, error: err.message }),
        );
        return;
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
  start: (
    init: CoreInit,
    identityFor: (serverFingerprint: string) => Promise<Identity>,
  ) => Promise<{ dispatch: Dispatch; subscribe: (listener: (event: AppEvent) => void) => void }>,
): void {
  let served: Promise<Dispatch> | null = null;
  let nextId = 1;
  const identities = new Map<number, { resolve: (identity: Identity) => void; reject: (err: Error) => void }>();
  const identityFor = (serverFingerprint: string) =>
    new Promise<Identity>((resolve, reject) => {
      const id = nextId++;
      identities.set(id, { resolve, reject });
      parent.postMessage({ type: 'identity-request', id, serverFingerprint });
    });
  parent.on('message', ({ data }) => {
    if (data.type === 'identity') {
      const waiting = identities.get(data.id);
      identities.delete(data.id);
      if (data.identity) waiting?.resolve(data.identity);
      else waiting?.reject(new Error(`no identity for this server: ${data.error ?? 'unknown error'}`));
      return;
    }
    if (data.type === 'init' && !served) {
      served = start(data.init, identityFor).then(
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
        .then(
          (result) => parent.postMessage({ type: 'reply', id, result }),
          () => parent.postMessage({ type: 'reply', id, result: STOPPED }),
        );
    }
  });
}
