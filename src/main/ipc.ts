/**
 * The main process's IPC surface: one `ipcMain.handle` per `CoveyApi` method. Each call is
 * served only for the app's own window (./security.ts isTrustedSender) and only with an
 * argument that passes its zod schema; then it goes to the app core in the utility process, or
 * for the two methods that need a native dialog, to the main process's own handler.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { API_METHODS, ipcChannel, type ApiArg, type ApiMethod, type Result } from '../app/contract.js';
import { parseCall } from '../app/schemas.js';
import { isTrustedSender } from './security.js';

export interface IpcDeps {
  /** Sends a validated call to the app core. */
  call: (method: ApiMethod, arg: unknown) => Promise<Result<unknown>>;
  /** Main-process handlers (native dialogs); they get the validated argument. */
  overrides?: { [M in ApiMethod]?: (arg: ApiArg<M>) => Promise<Result<unknown>> };
  trusted: () => { webContentsId: number | null; appUrl: string };
}

export const FORBIDDEN: Result<never> = {
  ok: false,
  error: { code: 'forbidden', message: 'This request did not come from the Covey window and was refused.' },
};

export function registerIpcHandlers(ipcMain: Pick<IpcMain, 'handle'>, deps: IpcDeps): string[] {
  const channels: string[] = [];
  for (const method of API_METHODS) {
    const channel = ipcChannel(method);
    ipcMain.handle(channel, async (event: IpcMainInvokeEvent, arg: unknown) => {
      if (!isTrustedSender(event, deps.trusted())) return FORBIDDEN;
      const parsed = parseCall(method, arg);
      if (!parsed.ok) return parsed;
      const override = deps.overrides?.[method] as ((a: unknown) => Promise<Result<unknown>>) | undefined;
      return override ? override(parsed.arg) : deps.call(method, parsed.arg);
    });
    channels.push(channel);
  }
  return channels;
}
