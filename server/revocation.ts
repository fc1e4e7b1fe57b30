/** How often the server reads revocations written by `covey server revoke` (another process) from the database. */
export const REVOCATION_POLL_MS = 1000;

/**
 * Makes a revocation reach live connections: every REVOCATION_POLL_MS the revoked member ids are
 * read from the database (one indexed query; `covey server revoke` runs in its own process and
 * writes only the database, so polling needs no second channel or token), and each one that is
 * still live is handed to `onRevoked` once. Returns a function that stops the watch.
 */
export function watchRevocations(opts: {
  revoked: () => string[];
  live: () => Iterable<string>;
  onRevoked: (clientId: string) => void;
  onError: (err: Error) => void;
  intervalMs?: number;
}): () => void {
  const timer = setInterval(() => {
    try {
      const revoked = new Set(opts.revoked());
      if (revoked.size === 0) return;
      for (const id of [...opts.live()]) if (revoked.has(id)) opts.onRevoked(id);
    } catch (err) {
      opts.onError(err as Error);
    }
  }, opts.intervalMs ?? REVOCATION_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
