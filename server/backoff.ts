import type { ServerConfig } from './config.js';

/**
 * How long the round loop waits before the next attempt at a round after `failures` attempts at it
 * did not complete: initialSeconds × 2^(failures−1), at most maxSeconds; 0 before the first attempt.
 * A failing round (a member gone silent, a cohort that declines) then costs its members fewer
 * attempts per hour, and the operator time to act, instead of a burst of retries.
 */
export function retryDelayMs(backoff: ServerConfig['cohort']['retryBackoff'], failures: number): number {
  if (failures <= 0) return 0;
  const seconds = Math.min(backoff.maxSeconds, backoff.initialSeconds * 2 ** Math.min(failures - 1, 52));
  return seconds * 1000;
}
