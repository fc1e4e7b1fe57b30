/**
 * Electron main process: one window showing the bundled renderer, hardened per ./security.ts;
 * IPC handlers per ./ipc.ts; the app core (federation client, training, ledger) in a utility
 * process per ./core-channel.ts; the participant's keys sealed with safeStorage; native dialogs; desktop
 * notifications for round done, declined and the federation's end (app/notifications.ts).
 */
import { app, BrowserWindow, dialog, ipcMain, Notification, safeStorage, session, utilityProcess } from 'electron';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EVENT_CHANNEL, type AppState, type DataSource, type LedgerExport, type Result } from '../app/contract.js';
import { notificationsBetween } from '../app/notifications.js';
import { connectCore, type CoreBridge } from './core-channel.js';
import { DataPathGrants } from './data-paths.js';
import { identityForServer } from '../client/identities.js';
import { sealedIdentityStore } from './identity-store.js';
import { registerIpcHandlers } from './ipc.js';
import { hardenSession, hardenWebContents, windowOptions } from './security.js';

const rendererFile = fileURLToPath(new URL('../renderer/index.html', import.meta.url));
const devServerUrl = !app.isPackaged ? process.env['ELECTRON_RENDERER_URL'] : undefined;
const appUrl = devServerUrl ?? pathToFileURL(rendererFile).href;

let mainWindow: BrowserWindow | null = null;
let core: CoreBridge | null = null;

const stateDir = (): string => join(app.getPath('userData'), 'state');
let dataPaths = new DataPathGrants('');

function startCore(): CoreBridge {
  const { store, sealed } = sealedIdentityStore(stateDir(), safeStorage);
  if (!sealed) console.warn('covey: this system offers no key store; your keys are kept in a file only you can read');
  const child = utilityProcess.fork(fileURLToPath(new URL('./core-host.js', import.meta.url)), [], {
    serviceName: 'Covey core',
    stdio: 'inherit',
  });
  // One key pair per server fingerprint (client/identities.ts), sealed here; the core asks for the one it needs.
  const bridge = connectCore(child, { stateDir: stateDir(), version: app.getVersion() }, (fingerprint) => identityForServer(store, stateDir(), fingerprint));
  let lastState: AppState | null = null;
  bridge.onEvent((event) => {
    mainWindow?.webContents.send(EVENT_CHANNEL, event);
    // Round done, declined, federation ended: a desktop notification where the system offers them.
    if (Notification.isSupported()) for (const note of notificationsBetween(lastState, event.state)) new Notification(note).show();
    lastState = event.state;
  });
  return bridge;
}

function createWindow(): void {
  // DevTools only in a development build (not packaged): a packaged app gives the page no console into the core's API.
  const window = new BrowserWindow(windowOptions(fileURLToPath(new URL('../preload/index.cjs', import.meta.url)), { devTools: !app.isPackaged }));
  mainWindow = window;
  hardenWebContents(window.webContents);
  window.once('ready-to-show', () => window.show());
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  if (devServerUrl) void window.loadURL(devServerUrl);
  else void window.loadFile(rendererFile);
}

async function chooseDataPath(arg: { kind: 'file' | 'folder' }): Promise<Result<string | null>> {
  const options: Electron.OpenDialogOptions = {
    title: arg.kind === 'folder' ? 'Choose a folder of IDX files' : 'Choose a CSV file',
    properties: [arg.kind === 'folder' ? 'openDirectory' : 'openFile'],
    ...(arg.kind === 'file' && { filters: [{ name: 'CSV', extensions: ['csv'] }] }),
  };
  const chosen = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
  const path = chosen.canceled ? null : (chosen.filePaths[0] ?? null);
  if (path !== null) dataPaths.grant(path);
  return { ok: true, value: path };
}

/** A path is read only if the person chose it in a dialog of this main process (or it lies in the app's state folder). */
async function loadData(source: DataSource): Promise<Result<unknown>> {
  if (source.kind === 'path' && !dataPaths.allows(source.path)) {
    return {
      ok: false,
      error: { code: 'forbidden', message: 'Choose your data with “Choose a folder…” or “Choose a CSV file…”: the app reads only what you picked there.' },
    };
  }
  return core!.call('loadData', source);
}

async function exportLedger(): Promise<Result<LedgerExport>> {
  const result = (await core!.call('exportLedger', undefined)) as Result<LedgerExport>;
  if (!result.ok) return result;
  const options = { defaultPath: join(app.getPath('documents'), result.value.fileName), filters: [{ name: 'JSON', extensions: ['json'] }] };
  const target = mainWindow ? await dialog.showSaveDialog(mainWindow, options) : await dialog.showSaveDialog(options);
  if (target.canceled || !target.filePath) return { ok: false, error: { code: 'cancelled', message: 'Export cancelled.' } };
  try {
    await writeFile(target.filePath, result.value.json, { mode: 0o600 });
  } catch (err) {
    return { ok: false, error: { code: 'internal', message: `Could not write ${target.filePath}: ${(err as Error).message}` } };
  }
  return { ok: true, value: { ...result.value, savedTo: target.filePath } };
}

app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

void app.whenReady().then(() => {
  hardenSession(session.defaultSession, appUrl);
  dataPaths = new DataPathGrants(stateDir());
  core = startCore();
  registerIpcHandlers(ipcMain, {
    call: (method, arg) => core!.call(method, arg),
    overrides: { chooseDataPath, exportLedger, loadData },
    trusted: () => ({ webContentsId: mainWindow?.webContents.id ?? null, appUrl }),
  });
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});
