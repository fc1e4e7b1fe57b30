/**
 * The surface the renderer sees: one `CoveyApi` (./../app/contract.ts), exposed by the preload
 * as `window.covey`. In browser mode the renderer builds the same API over a WebSocket.
 */
import type { CoveyApi } from '../app/contract.js';

export type { CoveyApi } from '../app/contract.js';
export { API_NAME } from '../app/contract.js';

declare global {
  interface Window {
    covey?: CoveyApi;
  }
}
