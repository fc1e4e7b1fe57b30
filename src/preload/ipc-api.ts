import type { IpcRenderer, IpcRendererEvent } from 'electron';
import { API_METHODS, EVENT_CHANNEL, ipcChannel, type AppEvent, type CoveyApi } from '../app/contract.js';

/** `CoveyApi` over IPC: each method is one invoke on its own channel; events arrive on one channel. */
export function buildIpcApi(ipc: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>): CoveyApi {
  const api: Record<string, unknown> = {};
  for (const method of API_METHODS) {
    api[method] = (arg?: unknown) => ipc.invoke(ipcChannel(method), arg);
  }
  api.onEvent = (listener: (event: AppEvent) => void) => {
    // The page's listener gets the event only, never the IpcRendererEvent (it holds `sender`).
    const wrapped = (_event: IpcRendererEvent, event: AppEvent) => listener(event);
    ipc.on(EVENT_CHANNEL, wrapped);
    return () => {
      ipc.removeListener(EVENT_CHANNEL, wrapped);
    };
  };
  return Object.freeze(api) as unknown as CoveyApi;
}
