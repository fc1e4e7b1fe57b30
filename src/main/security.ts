/**
 * Electron's security checklist, as plain functions of their inputs so that a test can assert
 * each point without the Electron binary: the window's webPreferences, the Content-Security-
 * Policy, navigation / new-window / webview denial, permission denial, no remote content, and
 * the IPC sender check. Only types are imported from 'electron'.
 */
import type { BrowserWindowConstructorOptions, IpcMainInvokeEvent, Session, WebContents } from 'electron';

/**
 * The renderer's CSP: only the app's own files; no inline script or style, no eval, no remote
 * anything. The same text is the <meta> of src/renderer/index.html (a test keeps them equal).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function windowOptions(preloadPath: string, build: { devTools: boolean }): BrowserWindowConstructorOptions {
  return {
    width: 1180,
    height: 800,
    minWidth: 900,
    minHeight: 600,
    title: 'Covey',
    show: false,
    backgroundColor: '#f6f7f9',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: build.devTools,
    },
  };
}

/** True for the URL of the app's own page: the bundled file, or the dev server in development. */
export function isAppUrl(url: string, appUrl: string): boolean {
  try {
    const given = new URL(url);
    const app = new URL(appUrl);
    if (app.protocol === 'file:') return given.protocol === 'file:' && given.pathname === app.pathname;
    return given.origin === app.origin;
  } catch {
    return false;
  }
}

type Hardenable = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/**
 * The page stays the app's page: every navigation, redirect and new window is denied, and no
 * <webview> may attach. (Links to the outside are not opened at all.)
 */
export function hardenWebContents(contents: Hardenable): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

type HardenableSession = {
  setPermissionRequestHandler: Session['setPermissionRequestHandler'];
  setPermissionCheckHandler: Session['setPermissionCheckHandler'];
  webRequest: Pick<Session['webRequest'], 'onBeforeRequest' | 'onHeadersReceived'>;
};

/**
 * What the window may load: the app's own files (the renderer folder), data: URLs, devtools, and
 * in development the dev server. Everything else (http, https, ws to anywhere else) is remote
 * content and refused.
 */
export function isLocalRequest(url: string, appUrl: string): boolean {
  let given: URL;
  try {
    given = new URL(url);
  } catch {
    return false;
  }
  if (given.protocol === 'data:' || given.protocol === 'devtools:') return true;
  const app = new URL(appUrl);
  if (app.protocol === 'file:') return given.protocol === 'file:' && given.pathname.startsWith(new URL('.', app).pathname);
  return given.origin === app.origin || (given.protocol === 'ws:' && given.host === app.host);
}

/** No permission (camera, notifications, geolocation, …) is ever granted; no remote request leaves; the CSP travels as a header too. */
export function hardenSession(session: HardenableSession, appUrl: string): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isLocalRequest(details.url, appUrl) }));
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
}

/**
 * An IPC call is served only when it comes from the app's own window, from its main frame, on
 * the app's own page: never from another window, an iframe, or a page it was navigated to.
 */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>, trusted: { webContentsId: number | null; appUrl: string }): boolean {
  const frame = event.senderFrame;
  if (!frame || trusted.webContentsId === null) return false;
  if (event.sender.id !== trusted.webContentsId) return false;
  if (frame.parent !== null) return false;
  return isAppUrl(frame.url, trusted.appUrl);
}
