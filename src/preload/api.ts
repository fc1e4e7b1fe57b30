/** The whole surface the renderer sees, exposed by the preload script as `window.covey`. */
export interface CoveyApi {
  /** The desktop app's version, e.g. "0.1.0". */
  version(): string;
}

/** The global name the preload exposes the API under. */
export const API_NAME = 'covey';

/** Command-line switch by which the main process hands the app version to the sandboxed preload. */
export const VERSION_SWITCH = '--covey-version=';

declare global {
  interface Window {
    covey?: CoveyApi;
  }
}
