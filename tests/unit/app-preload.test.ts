/** The sandboxed preload exposes exactly one object, the typed CoveyApi, over fixed IPC channels. */
import { describe, expect, it, vi } from 'vitest';
import { API_METHODS, API_NAME, EVENT_CHANNEL, ipcChannel } from '../../src/app/contract.js';
import { buildIpcApi } from '../../src/preload/ipc-api.js';

const exposed = vi.hoisted(() => [] as [string, unknown][]);
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (name: string, value: unknown) => exposed.push([name, value]) },
  ipcRenderer: { invoke: vi.fn(), on: vi.fn(), removeListener: vi.fn() },
}));

function fakeIpc() {
  const listeners = new Map<string, (...args: unknown[]) => void>();
  return {
    invoke: vi.fn(async (channel: string, arg: unknown) => ({ ok: true, value: { channel, arg } })),
    on: vi.fn((channel: string, fn: (...args: unknown[]) => void) => listeners.set(channel, fn)),
    removeListener: vi.fn((channel: string) => listeners.delete(channel)),
    listeners,
  };
}

describe('the preload', () => {
  it('exposes one object, window.covey, with the API methods and onEvent only', async () => {
    await import('../../src/preload/index.js');
    expect(exposed.map(([name]) => name)).toEqual([API_NAME]);
    const api = exposed[0][1] as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual([...API_METHODS, 'onEvent'].sort());
    expect(Object.values(api).every((v) => typeof v === 'function')).toBe(true);
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('invokes each method on its own channel and hands the page events without the IPC event', async () => {
    const ipc = fakeIpc();
    const api = buildIpcApi(ipc as never);
    expect(await api.setCap({ epsilon: 2, view: 'promised' })).toEqual({
      ok: true,
      value: { channel: ipcChannel('setCap'), arg: { epsilon: 2, view: 'promised' } },
    });
    await api.getState();
    expect(ipc.invoke).toHaveBeenLastCalledWith(ipcChannel('getState'), undefined);
    const seen: unknown[][] = [];
    const off = api.onEvent((...args: unknown[]) => seen.push(args));
    ipc.listeners.get(EVENT_CHANNEL)!({ sender: 'the ipc event, with its sender' }, { type: 'state', state: {} });
    expect(seen).toEqual([[{ type: 'state', state: {} }]]);
    off();
    expect(ipc.removeListener).toHaveBeenCalledWith(EVENT_CHANNEL, expect.any(Function));
  });
});
