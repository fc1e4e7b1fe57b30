/**
 * Electron's security checklist, asserted without the Electron binary: the real main process
 * (src/main/index.ts) runs against a stand-in 'electron' module that records what it is asked to
 * do, and the hardening functions are checked directly.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_METHODS, EVENT_CHANNEL, ipcChannel } from '../../src/app/contract.js';

type Handler = (...args: unknown[]) => unknown;

const fake = vi.hoisted(() => {
  const state = {
    userData: '',
    appHandlers: {} as Record<string, Handler>,
    windows: [] as { options: Record<string, unknown>; webContents: ReturnType<typeof contents>; loaded: string | null }[],
    ipc: new Map<string, Handler>(),
    session: {
      permissionRequest: null as Handler | null,
      permissionCheck: null as Handler | null,
      beforeRequest: null as Handler | null,
      headersReceived: null as Handler | null,
    },
    child: {
      sent: [] as { type: string; id?: number; method?: string; arg?: unknown }[],
      listeners: {} as Record<string, Handler>,
    },
    notifications: [] as { title: string; body: string }[],
  };
  function contents(id: number) {
    const handlers: Record<string, Handler> = {};
    return {
      id,
      handlers,
      openHandler: null as Handler | null,
      sent: [] as unknown[],
      on(event: string, fn: Handler) {
        handlers[event] = fn;
      },
      setWindowOpenHandler(fn: Handler) {
        this.openHandler = fn;
      },
      send(...args: unknown[]) {
        this.sent.push(args);
      },
    };
  }
  return { state, contents };
});

vi.mock('electron', () => {
  const { state, contents } = fake;
  class BrowserWindow {
    static getAllWindows = () => state.windows;
    webContents = contents(7);
    loaded: string | null = null;
    constructor(public options: Record<string, unknown>) {
      state.windows.push(this);
    }
    once() {}
    on() {}
    show() {}
    async loadFile(path: string) {
      this.loaded = path;
    }
    async loadURL(url: string) {
      this.loaded = url;
    }
  }
  return {
    app: {
      isPackaged: true,
      getPath: () => state.userData,
      getVersion: () => '0.1.0-test',
      on: (event: string, fn: Handler) => {
        state.appHandlers[event] = fn;
      },
      whenReady: () => Promise.resolve(),
      quit: () => {},
    },
    BrowserWindow,
    Notification: class {
      static isSupported = () => true;
      constructor(private readonly note: { title: string; body: string }) {}
      show() {
        state.notifications.push(this.note);
      }
    },
    dialog: { showOpenDialog: vi.fn(), showSaveDialog: vi.fn() },
    ipcMain: { handle: (channel: string, fn: Handler) => state.ipc.set(channel, fn) },
    safeStorage: {
      isEncryptionAvailable: () => true,
      encryptString: (text: string) => Buffer.from(Buffer.from(text).toString('base64').split('').reverse().join('')),
      decryptString: (data: Buffer) => Buffer.from(data.toString().split('').reverse().join(''), 'base64').toString(),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: Handler) => (state.session.permissionRequest = fn),
        setPermissionCheckHandler: (fn: Handler) => (state.session.permissionCheck = fn),
        webRequest: {
          onBeforeRequest: (fn: Handler) => (state.session.beforeRequest = fn),
          onHeadersReceived: (fn: Handler) => (state.session.headersReceived = fn),
        },
      },
    },
    utilityProcess: {
      fork: () => ({
        postMessage: (message: { type: string; id?: number }) => {
          state.child.sent.push(message);
          if (message.type === 'init') setImmediate(() => state.child.listeners.message?.({ type: 'ready' }));
        },
        on: (event: string, fn: Handler) => {
          state.child.listeners[event] = fn;
        },
      }),
    },
  };
});

const { state } = fake;
let appUrl = '';

beforeAll(async () => {
  state.userData = await mkdtemp(join(tmpdir(), 'covey-electron-'));
  await import('../../src/main/index.js');
  await vi.waitFor(() => expect(state.windows).toHaveLength(1));
  appUrl = pathToFileURL(state.windows[0].loaded!).href;
});

afterAll(async () => {
  await rm(state.userData, { recursive: true, force: true });
});

const event = (over: { id?: number; url?: string; parent?: unknown; frame?: null } = {}) => ({
  sender: { id: over.id ?? 7 },
  senderFrame: over.frame === null ? null : { url: over.url ?? appUrl, parent: over.parent ?? null },
});

describe('the BrowserWindow', () => {
  it('is created with context isolation, the sandbox, and no Node in the page', () => {
    const prefs = state.windows[0].options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
    });
    expect(prefs.preload).toMatch(/preload[\\/]index\.cjs$/);
    // A packaged (production) build: no DevTools.
    expect(prefs.devTools).toBe(false);
    expect(prefs).not.toHaveProperty('enableBlinkFeatures');
  });

  it('loads only the bundled renderer file, never a remote URL', () => {
    expect(state.windows[0].loaded).toMatch(/renderer[\\/]index\.html$/);
    expect(appUrl.startsWith('file://')).toBe(true);
  });

  it('denies every navigation, redirect, webview and new window', () => {
    const contents = state.windows[0].webContents;
    for (const name of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const preventDefault = vi.fn();
      contents.handlers[name]({ preventDefault }, 'https://example.com/');
      expect(preventDefault, name).toHaveBeenCalled();
    }
    const navigateHome = vi.fn();
    contents.handlers['will-navigate']({ preventDefault: navigateHome }, appUrl);
    expect(navigateHome).toHaveBeenCalled();
    expect(contents.openHandler!({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(contents.openHandler!({ url: appUrl })).toEqual({ action: 'deny' });
  });

  it('hardens any other web contents Electron creates the same way', () => {
    const other = fake.contents(99);
    state.appHandlers['web-contents-created']({}, other);
    const preventDefault = vi.fn();
    other.handlers['will-navigate']({ preventDefault }, 'https://example.com/');
    expect(preventDefault).toHaveBeenCalled();
    expect(other.openHandler!({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
  });
});

describe('the session', () => {
  it('grants no permission', () => {
    const callback = vi.fn();
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read']) state.session.permissionRequest!({}, permission, callback);
    expect(callback.mock.calls.every(([granted]) => granted === false)).toBe(true);
    expect(state.session.permissionCheck!({}, 'media')).toBe(false);
  });

  it('loads no remote content', () => {
    const cancelled = (url: string) => {
      let answer: { cancel: boolean } | undefined;
      state.session.beforeRequest!({ url }, (a: { cancel: boolean }) => (answer = a));
      return answer!.cancel;
    };
    expect(cancelled(new URL('assets/index.js', appUrl).href)).toBe(false);
    expect(cancelled('data:image/png;base64,AAAA')).toBe(false);
    for (const url of ['https://example.com/x.js', 'http://127.0.0.1:7420/', 'ws://example.com/', 'file:///etc/passwd']) {
      expect(cancelled(url), url).toBe(true);
    }
  });

  it('sends the strict Content-Security-Policy as a header, the same as the page meta', async () => {
    const { CONTENT_SECURITY_POLICY } = await import('../../src/main/security.js');
    let headers: Record<string, string[]> = {};
    state.session.headersReceived!({ responseHeaders: {} }, (a: { responseHeaders: Record<string, string[]> }) => (headers = a.responseHeaders));
    expect(headers['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
    const directives = Object.fromEntries(
      CONTENT_SECURITY_POLICY.split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    expect(directives['default-src']).toEqual(["'self'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    const html = await readFile(new URL('../../src/renderer/index.html', import.meta.url), 'utf8');
    const meta = html.replace(/\s+/g, ' ').match(/http-equiv="Content-Security-Policy" content="([^"]+)"/)?.[1];
    expect(meta).toBe(CONTENT_SECURITY_POLICY);
  });
});

describe('IPC', () => {
  it('has one handler per API method and nothing else', () => {
    expect([...state.ipc.keys()].sort()).toEqual(API_METHODS.map(ipcChannel).sort());
  });

  it('serves the app window, forwarding the validated argument to the core process', async () => {
    const handler = state.ipc.get(ipcChannel('setCap'))!;
    const reply = handler(event(), { epsilon: 3, view: 'worst-case' }) as Promise<unknown>;
    await vi.waitFor(() => expect(state.child.sent.some((m) => m.type === 'call' && m.method === 'setCap')).toBe(true));
    const call = state.child.sent.find((m) => m.type === 'call' && m.method === 'setCap')!;
    expect(call.arg).toEqual({ epsilon: 3, view: 'worst-case' });
    state.child.listeners.message({ type: 'reply', id: call.id, result: { ok: true, value: 'done' } });
    expect(await reply).toEqual({ ok: true, value: 'done' });
  });

  it('refuses senders that are not the app window’s main frame on the app page', async () => {
    const before = state.child.sent.length;
    const handler = state.ipc.get(ipcChannel('leave'))!;
    for (const e of [
      event({ id: 8 }), // another window
      event({ parent: { url: appUrl } }), // an iframe
      event({ url: 'https://example.com/' }), // the window after a navigation
      event({ url: pathToFileURL('/tmp/evil.html').href }), // another local file
      event({ frame: null }), // a frame already gone
    ]) {
      expect(await handler(e, undefined)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(state.child.sent.length).toBe(before);
  });

  it('refuses arguments that fail their schema, before anything acts on them', async () => {
    const before = state.child.sent.length;
    const setCap = state.ipc.get(ipcChannel('setCap'))!;
    for (const bad of [
      undefined,
      { epsilon: -1, view: 'worst-case' },
      { epsilon: 1, view: 'best-case' },
      { epsilon: 1, view: 'worst-case', extra: true },
      'x',
    ]) {
      expect(await setCap(event(), bad)).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    }
    const loadData = state.ipc.get(ipcChannel('loadData'))!;
    expect(await loadData(event(), { kind: 'path', path: '' })).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    expect(await loadData(event(), { kind: 'url', path: 'https://x' })).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    expect(state.child.sent.length).toBe(before);
  });

  it('finding 10: reads a data path only if the person chose it in a native dialog of the main process (or it is in the app state folder)', async () => {
    const { dialog } = await import('electron');
    const loadData = state.ipc.get(ipcChannel('loadData'))!;
    const before = state.child.sent.length;
    for (const path of ['/etc/passwd', join(state.userData, '..', 'secrets.csv'), join(state.userData, 'state', '..', 'other.csv')]) {
      expect(await loadData(event(), { kind: 'path', path }), path).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(state.child.sent.length).toBe(before);
    const picked = join(state.userData, 'picked', 'data.csv');
    vi.mocked(dialog).showOpenDialog.mockResolvedValueOnce({ canceled: false, filePaths: [picked] });
    expect(await state.ipc.get(ipcChannel('chooseDataPath'))!(event(), { kind: 'file' })).toEqual({ ok: true, value: picked });
    for (const path of [picked, join(state.userData, 'state', 'data', 'digits')]) {
      void loadData(event(), { kind: 'path', path });
      await vi.waitFor(() =>
        expect(state.child.sent.some((m) => m.type === 'call' && m.method === 'loadData' && (m.arg as { path: string }).path === path)).toBe(true),
      );
    }
    expect(await loadData(event(), { kind: 'path', path: join(state.userData, 'picked', 'other.csv') })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });

  it('streams app events from the core process to the window only, and notifies the desktop of the end', () => {
    const active = { participation: 'active', rounds: [], notices: [] };
    // The notification says the signed end (as the screens do), not the last notice.
    const ended = { outcome: 'stopped', message: 'every member drawn declined round 2', rounds: 1, of: 3 };
    const done = { participation: 'done', rounds: [], notices: ['Round 2 was declined.'], federation: { ended } };
    state.child.listeners.message({ type: 'event', event: { type: 'state', state: active } });
    expect(state.windows[0].webContents.sent).toEqual([[EVENT_CHANNEL, { type: 'state', state: active }]]);
    expect(state.notifications).toEqual([]);
    state.child.listeners.message({ type: 'event', event: { type: 'state', state: done } });
    expect(state.windows[0].webContents.sent).toHaveLength(2);
    expect(state.notifications).toEqual([
      { title: 'The federation ended', body: 'This federation stopped after 1 of its 3 rounds: every member drawn declined round 2.' },
    ]);
  });
});

describe('key storage', () => {
  it('keeps one key pair per server, sealed with safeStorage, never in plain text, made when the core asks for it', async () => {
    const ask = async (id: number, serverFingerprint: string) => {
      state.child.listeners.message({ type: 'identity-request', id, serverFingerprint });
      await vi.waitFor(() => expect(state.child.sent.some((m) => m.type === 'identity' && m.id === id)).toBe(true));
      return (state.child.sent.find((m) => m.type === 'identity' && m.id === id) as unknown as { identity: { signSecretKey: Uint8Array } }).identity;
    };
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    const first = await ask(101, a);
    expect(first.signSecretKey).toHaveLength(64);
    const sealed = await readFile(join(state.userData, 'state', 'identities', `${a}.sealed`), 'utf8');
    expect(sealed).not.toMatch(/signSecretKey|covey-identity/);
    expect((await ask(102, a)).signSecretKey).toEqual(first.signSecretKey);
    expect((await ask(103, b)).signSecretKey).not.toEqual(first.signSecretKey);
    const init = state.child.sent.find((m) => m.type === 'init') as unknown as { init: Record<string, unknown> };
    expect(Object.keys(init.init)).not.toContain('identity');
  });
});
