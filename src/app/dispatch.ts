/**
 * One entry point for every transport (Electron IPC via the utility process, browser mode's
 * WebSocket): validate the method and its argument, call the app core, and return a `Result`,
 * never a thrown error.
 */
import type { ApiMethod, Result } from './contract.js';
import type { AppCore } from './core.js';
import { toAppError } from './errors.js';
import { isApiMethod, parseCall } from './schemas.js';

export type Dispatch = (method: unknown, arg: unknown) => Promise<Result<unknown>>;

export function createDispatcher(core: AppCore, overrides: Partial<Record<ApiMethod, (arg: unknown) => Promise<unknown>>> = {}): Dispatch {
  return async (method, arg) => {
    if (!isApiMethod(method)) return { ok: false, error: { code: 'invalid-argument', message: `unknown method ${String(method).slice(0, 64)}` } };
    const parsed = parseCall(method, arg);
    if (!parsed.ok) return parsed;
    try {
      const override = overrides[method];
      const value = override ? await override(parsed.arg) : await (core[method] as (a: unknown) => Promise<unknown>).call(core, parsed.arg);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, error: toAppError(err) };
    }
  };
}
