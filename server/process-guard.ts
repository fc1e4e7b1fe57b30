import type { Logger } from './logger.js';

const EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Keeps a long-running server alive past an error that escaped every handler: such an error is
 * logged and the process goes on. It first removes the process-wide listeners other libraries
 * installed (tfjs's wasm backend, built with Emscripten, adds ones that rethrow and so end the
 * process). Call it once the backend is loaded, from the server's own entry point only.
 */
export function keepAliveOnEscapedErrors(log: Logger): void {
  for (const event of EVENTS) {
    process.removeAllListeners(event);
    process.on(event, (err: unknown) => {
      log('error', 'error escaped a handler; the server goes on', { event, error: String((err as Error)?.stack ?? err).slice(0, 2000) });
    });
  }
}
