import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../server/backoff.js';
import { parseServerConfig } from '../../server/config.js';

describe('retryDelayMs: exponential backoff between attempts at a round, bounded', () => {
  it('waits nothing before the first attempt, then initial × 2^(failures−1), at most the bound', () => {
    const backoff = parseServerConfig({}).cohort.retryBackoff;
    expect(backoff).toEqual({ initialSeconds: 1, maxSeconds: 60 });
    expect([0, 1, 2, 3, 6, 7, 8, 1000].map((n) => retryDelayMs(backoff, n))).toEqual([0, 1000, 2000, 4000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('takes its numbers from the config, and refuses a bound below the first wait', () => {
    const backoff = parseServerConfig({ cohort: { retryBackoff: { initialSeconds: 0.25, maxSeconds: 0.6 } } }).cohort.retryBackoff;
    expect([1, 2, 3].map((n) => retryDelayMs(backoff, n))).toEqual([250, 500, 600]);
    expect(() => parseServerConfig({ cohort: { retryBackoff: { initialSeconds: 5, maxSeconds: 1 } } })).toThrow(/maxSeconds must be at least initialSeconds/);
    expect(() => parseServerConfig({ cohort: { retryBackoff: { initialSecs: 5 } } })).toThrow(/retryBackoff/);
  });
});
