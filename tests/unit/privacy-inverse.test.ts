import { describe, expect, it } from 'vitest';
import { epsilonFor, noiseForTargetEpsilon, type AccountantName } from '../../src/core/privacy/index.js';

const DELTA = 1e-5;

const eps = (z: number, q: number, rounds: number, accountant: AccountantName) =>
  epsilonFor([{ noiseMultiplier: z, samplingRate: q, rounds }], DELTA, accountant).epsilon;

describe.each(['rdp', 'prv'] as const)('noiseForTargetEpsilon (%s)', (accountant) => {
  it('returns the smallest z on the 0.001 grid that meets the target', () => {
    for (const [targetEpsilon, samplingRate, rounds] of [
      [1, 0.01, 1000],
      [8, 1, 10],
      [0.5, 0.001, 100],
    ]) {
      const { noiseMultiplier, epsilon } = noiseForTargetEpsilon({ targetEpsilon, delta: DELTA, samplingRate, rounds, accountant });
      expect(Math.round(noiseMultiplier * 1000)).toBeCloseTo(noiseMultiplier * 1000, 9);
      expect(epsilon).toBe(eps(noiseMultiplier, samplingRate, rounds, accountant));
      expect(epsilon).toBeLessThanOrEqual(targetEpsilon);
      expect(eps(noiseMultiplier - 0.001, samplingRate, rounds, accountant)).toBeGreaterThan(targetEpsilon);
    }
  });

  it('throws a RangeError when no z ≤ 1000 reaches the target', () => {
    expect(() => noiseForTargetEpsilon({ targetEpsilon: 0.5, delta: DELTA, samplingRate: 1, rounds: 100_000, accountant })).toThrow(
      /no noise multiplier ≤ 1000 reaches ε ≤ 0.5/,
    );
  });
});

describe('noiseForTargetEpsilon', () => {
  it('needs less noise with the tight accountant, PRV by default', () => {
    const args = { targetEpsilon: 2, delta: DELTA, samplingRate: 0.02, rounds: 500 };
    const prv = noiseForTargetEpsilon(args);
    expect(prv).toEqual(noiseForTargetEpsilon({ ...args, accountant: 'prv' }));
    expect(prv.noiseMultiplier).toBeLessThan(noiseForTargetEpsilon({ ...args, accountant: 'rdp' }).noiseMultiplier);
  });

  it('checks its arguments', () => {
    const args = { targetEpsilon: 1, delta: DELTA, samplingRate: 0.01, rounds: 100 };
    expect(() => noiseForTargetEpsilon({ ...args, targetEpsilon: 0 })).toThrow(RangeError);
    expect(() => noiseForTargetEpsilon({ ...args, delta: 1 })).toThrow(RangeError);
    expect(() => noiseForTargetEpsilon({ ...args, samplingRate: 0 })).toThrow(RangeError);
    expect(() => noiseForTargetEpsilon({ ...args, rounds: 0 })).toThrow(RangeError);
    expect(() => noiseForTargetEpsilon({ ...args, accountant: 'gdp' as never })).toThrow(/unknown accountant/);
  });
});
