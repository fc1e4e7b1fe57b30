/**
 * Sandboxed preload: exposes exactly one object, `window.covey`, whose functions invoke the main
 * process over fixed IPC channels. The page never gets ipcRenderer itself, nor Node.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { buildIpcApi } from './ipc-api.js';
import { API_NAME } from '../app/contract.js';

contextBridge.exposeInMainWorld(API_NAME, buildIpcApi(ipcRenderer));
