import { useEffect, useState } from 'react';
import type { AppError, AppState, CoveyApi } from '../../app/contract.js';

/** The app core's state: fetched once, then kept current by its events. */
export function useAppState(api: CoveyApi): { state: AppState | null; error: AppError | null } {
  const [state, setState] = useState<AppState | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    let live = true;
    const off = api.onEvent((event) => {
      if (live && event.type === 'state') setState(event.state);
    });
    void api.getState().then((result) => {
      if (!live) return;
      if (result.ok) setState((current) => current ?? result.value);
      else setError(result.error);
    });
    return () => {
      live = false;
      off();
    };
  }, [api]);
  return { state, error };
}

/** Runs one API call at a time for a screen: busy while it runs, its error kept to show. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const run = async <T>(call: () => Promise<{ ok: true; value: T } | { ok: false; error: AppError }>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      const result = await call();
      if (result.ok) return result.value;
      setError(result.error);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}
