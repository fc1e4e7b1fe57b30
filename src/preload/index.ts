import { contextBridge } from 'electron';
import { API_NAME, VERSION_SWITCH, type CoveyApi } from './api.js';

const version = process.argv.find((arg) => arg.startsWith(VERSION_SWITCH))?.slice(VERSION_SWITCH.length) ?? 'unknown';

const api: CoveyApi = {
  version: () => version,
};

contextBridge.exposeInMainWorld(API_NAME, api);
