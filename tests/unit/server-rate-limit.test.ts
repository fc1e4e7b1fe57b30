import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../server/rate-limit.js';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the configured rate', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 499; // 0.998 of a token
    expect(bucket.take()).toBe(false);
    now += 2;
    expect(bucket.take()).toBe(true);
    now += 60_000; // refill is capped at the burst
    expect(Array.from({ length: 4 }, () => bucket.take())).toEqual([true, true, true, false]);
  });
});
