import erfc from '@stdlib/math-base-special-erfc';
import { describe, expect, it } from 'vitest';
import { computeEpsilon, gaussianDelta, gaussianEpsilon } from '../../src/core/privacy/index.js';

/** δ(ε) of the Gaussian mechanism written directly with erfc (fine where nothing underflows). */
const directDelta = (eps: number, r: number) => erfc(-(r / 2 - eps / r) / Math.SQRT2) / 2 - (Math.exp(eps) * erfc((r / 2 + eps / r) / Math.SQRT2)) / 2;

describe('gaussianDelta (Balle & Wang 2018, Thm 8)', () => {
  it('matches the erfc form of Φ(r/2 − ε/r) − e^ε Φ(−r/2 − ε/r)', () => {
    for (const r of [0.1, 0.5, 1, 2, 5]) {
      for (const eps of [0, 0.3, 1, 2.5]) {
        expect(gaussianDelta(eps, r)).toBeCloseTo(directDelta(eps, r), 14);
      }
    }
  });

  it('is 2Φ(r/2) − 1 at ε = 0', () => {
    expect(gaussianDelta(0, 1)).toBeCloseTo(1 - erfc(0.5 / Math.SQRT2), 15);
  });

  it('keeps relative precision in the far tail and never returns NaN', () => {
    for (const eps of [10, 20, 30]) {
      const d = gaussianDelta(eps, 1);
      expect(d).toBeGreaterThan(0);
      expect(Math.abs(d / directDelta(eps, 1) - 1)).toBeLessThan(1e-9);
    }
    // e^ε overflows and Φ underflows in the direct form (∞·0 = NaN); the exact δ is below the smallest double.
    expect(gaussianDelta(800, 1)).toBe(0);
  });

  it('decreases in ε and increases in Δ/σ', () => {
    for (const eps of [0, 1, 3, 8]) {
      expect(gaussianDelta(eps + 0.5, 1)).toBeLessThan(gaussianDelta(eps, 1));
      expect(gaussianDelta(eps, 1.5)).toBeGreaterThan(gaussianDelta(eps, 1));
    }
  });

  it('rejects a non-positive ratio', () => {
    expect(() => gaussianDelta(1, 0)).toThrow(RangeError);
    expect(() => gaussianDelta(1, Number.NaN)).toThrow(RangeError);
  });
});

describe('gaussianEpsilon', () => {
  it('z = 1, T = 1, δ = 1e-5 gives ε = 4.37717809568', () => {
    expect(gaussianEpsilon(1e-5, 1)).toBeCloseTo(4.37717809568, 10);
  });

  it('inverts gaussianDelta to 1e-12', () => {
    for (const r of [0.05, 0.3, 1, 3, 30]) {
      for (const delta of [1e-8, 1e-5, 1e-3]) {
        const eps = gaussianEpsilon(delta, r);
        if (eps === 0) {
          expect(gaussianDelta(0, r)).toBeLessThanOrEqual(delta);
          continue;
        }
        expect(gaussianDelta(eps, r)).toBeLessThanOrEqual(delta);
        expect(gaussianDelta(eps - 1e-12 * Math.max(1, eps) * 2, r)).toBeGreaterThan(delta);
      }
    }
  });

  it('T rounds at noise z are one round at z/√T, and RDP is never below it', () => {
    for (const z of [0.8, 1, 2, 5]) {
      for (const T of [1, 10, 100, 1000]) {
        const exact = gaussianEpsilon(1e-5, Math.sqrt(T) / z);
        const rdp = computeEpsilon({ noiseMultiplier: z, samplingRate: 1, rounds: T, delta: 1e-5 }).epsilon;
        expect(rdp).toBeGreaterThanOrEqual(exact);
      }
    }
  });

  it('is 0 when δ(0) is already below δ, and checks its arguments', () => {
    expect(gaussianEpsilon(0.5, 0.01)).toBe(0);
    expect(() => gaussianEpsilon(0, 1)).toThrow(RangeError);
    expect(() => gaussianEpsilon(1, 1)).toThrow(RangeError);
    expect(() => gaussianEpsilon(1e-5, -1)).toThrow(RangeError);
  });
});
