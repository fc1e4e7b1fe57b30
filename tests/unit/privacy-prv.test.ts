import { describe, expect, it } from 'vitest';
import { computeEpsilon, epsilonFor, gaussianEpsilon, prvEpsilon } from '../../src/core/privacy/index.js';

const DELTA = 1e-5;

/** Exact ε of q = 1 rounds (z_i, T_i): one Gaussian with (Δ/σ)² = Σ T_i / z_i² (Balle & Wang 2018). */
const analytic = (rounds: [number, number][], delta = DELTA) => gaussianEpsilon(delta, Math.sqrt(rounds.reduce((acc, [z, t]) => acc + t / (z * z), 0)));

/** Composite Simpson rule on [a, b] with n (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n = 20_000): number {
  const h = (b - a) / n;
  let sum = f(a) + f(b);
  for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (sum * h) / 3;
}

/**
 * One subsampled-Gaussian round's δ(ε), by numerical integration of (P − e^ε Q)₊ with P, Q the mixture
 * (1−q)N(0,z²) + qN(1,z²) and N(0,z²) in either order (an independent check of the closed forms).
 */
function integratedDelta(q: number, z: number, eps: number): number {
  const phi = (x: number) => Math.exp(-(x * x) / (2 * z * z)) / (z * Math.sqrt(2 * Math.PI));
  const mix = (x: number) => (1 - q) * phi(x) + q * phi(x - 1);
  const ratio = (x: number) => 1 - q + q * Math.exp((2 * x - 1) / (2 * z * z)); // mix/phi, increasing in x
  const crossing = (target: number) => {
    let [lo, hi] = [-100 * z - 10, 100 * z + 10];
    for (let i = 0; i < 200; i++) [lo, hi] = ratio((lo + hi) / 2) < target ? [(lo + hi) / 2, hi] : [lo, (lo + hi) / 2];
    return hi;
  };
  const e = Math.exp(eps);
  // remove: P = mix, Q = phi, P > e^ε Q right of the crossing; add: P = phi, Q = mix, left of it.
  const xr = crossing(e);
  const remove = simpson((x) => mix(x) - e * phi(x), xr, xr + 40 * z);
  const add = 1 - q >= 1 / e ? 0 : simpson((x) => phi(x) - e * mix(x), crossing(1 / e) - 40 * z, crossing(1 / e));
  return Math.max(remove, add);
}

/** ε at δ of the integrated curve, by bisection. */
function integratedEpsilon(q: number, z: number, delta: number): number {
  let [lo, hi] = [0, 50];
  for (let i = 0; i < 60; i++) [lo, hi] = integratedDelta(q, z, (lo + hi) / 2) > delta ? [(lo + hi) / 2, hi] : [lo, (lo + hi) / 2];
  return hi;
}

/** exact ≤ ε ≤ exact + 0.015, and the stated error covers the gap. */
function expectTight(result: { epsilon: number; epsilonError: number }, exact: number): void {
  expect(result.epsilon).toBeGreaterThanOrEqual(exact);
  expect(result.epsilon).toBeLessThanOrEqual(exact + 0.015);
  expect(result.epsilon - result.epsilonError).toBeLessThanOrEqual(exact);
}

describe('prvEpsilon at q = 1 against the analytic Gaussian mechanism', () => {
  for (const z of [0.8, 1, 2, 5]) {
    it(`z = ${z}, T ∈ {1, 10, 100, 1000}`, () => {
      for (const T of [1, 10, 100, 1000]) {
        const result = prvEpsilon([{ noiseMultiplier: z, samplingRate: 1, rounds: T }], DELTA);
        expectTight(result, analytic([[z, T]]));
        expect(result.accountant).toBe('prv');
      }
    });
  }

  it('composes heterogeneous rounds: 3 at z = 1 and 4 at z = 2 are one Gaussian with Δ/σ = 2', () => {
    const records = [
      { noiseMultiplier: 1, samplingRate: 1, rounds: 3 },
      { noiseMultiplier: 2, samplingRate: 1, rounds: 4 },
    ];
    expectTight(
      prvEpsilon(records, DELTA),
      analytic([
        [1, 3],
        [2, 4],
      ]),
    );
    expectTight(
      prvEpsilon(records, 1e-8),
      analytic(
        [
          [1, 3],
          [2, 4],
        ],
        1e-8,
      ),
    );
  });
});

describe('prvEpsilon for subsampled rounds', () => {
  it('one round matches numerical integration of the hockey-stick divergence', () => {
    for (const [q, z] of [
      [0.01, 0.8],
      [0.1, 1],
      [0.5, 2],
    ]) {
      const exact = integratedEpsilon(q, z, DELTA);
      expectTight(prvEpsilon([{ noiseMultiplier: z, samplingRate: q, rounds: 1 }], DELTA), exact);
    }
  });

  it('TF Privacy MNIST (q = 256/60000, z = 1.1, T = 14062, δ = 1e-5) gives ε in [2.38, 2.40], below RDP 2.5966', () => {
    const result = prvEpsilon([{ noiseMultiplier: 1.1, samplingRate: 256 / 60000, rounds: 14062 }], DELTA);
    expect(result.epsilon).toBeGreaterThanOrEqual(2.38);
    expect(result.epsilon).toBeLessThanOrEqual(2.4);
    expect(result.epsilonError).toBeGreaterThan(0);
    expect(result.epsilonError).toBeLessThan(0.015);
  });

  it('q just below 1 agrees with q = 1', () => {
    const [z, T, delta] = [9.45, 176, 4e-4];
    const exact = analytic([[z, T]], delta);
    for (const q of [0.999999, 1 - 2e-15]) {
      const { epsilon } = prvEpsilon([{ noiseMultiplier: z, samplingRate: q, rounds: T }], delta);
      expect(epsilon).toBeGreaterThan(exact - 0.01);
      expect(epsilon).toBeLessThanOrEqual(exact + 0.015);
    }
  });

  it('merges identical records and does not depend on their order', () => {
    const a = { noiseMultiplier: 1, samplingRate: 0.02, rounds: 300 };
    const b = { noiseMultiplier: 1.5, samplingRate: 0.05, rounds: 200 };
    const merged = prvEpsilon([{ ...a, rounds: 600 }], DELTA).epsilon;
    expect(prvEpsilon([a, a], DELTA).epsilon).toBe(merged);
    const ab = prvEpsilon([a, b], DELTA);
    expect(prvEpsilon([b, a], DELTA).epsilon).toBeCloseTo(ab.epsilon, 9);
    // Between its parts alone and the RDP bound of the whole.
    expect(ab.epsilon).toBeGreaterThan(prvEpsilon([a], DELTA).epsilon);
    expect(ab.epsilon).toBeGreaterThan(prvEpsilon([b], DELTA).epsilon);
    expect(ab.epsilon).toBeLessThanOrEqual(epsilonFor([a, b], DELTA, 'rdp').epsilon + ab.epsilonError);
  });

  it('stays finite over q ∈ [0.001, 1], z ∈ [0.5, 10], T ≤ 10^5, δ ∈ [1e-8, 1e-3] (corners)', () => {
    const corners: [number, number, number, number][] = [
      [0.001, 0.5, 1, 1e-8],
      [0.001, 10, 1, 1e-3],
      [1, 0.5, 1, 1e-3],
      [1, 10, 1, 1e-8],
      [0.001, 0.5, 100_000, 1e-3],
      [0.001, 10, 100_000, 1e-8],
      [1, 0.5, 100_000, 1e-8],
      [1, 10, 100_000, 1e-3],
    ];
    for (const [samplingRate, noiseMultiplier, rounds, delta] of corners) {
      const { epsilon, epsilonError } = prvEpsilon([{ noiseMultiplier, samplingRate, rounds }], delta);
      const rdp = computeEpsilon({ noiseMultiplier, samplingRate, rounds, delta }).epsilon;
      expect(Number.isFinite(epsilon) && Number.isFinite(epsilonError)).toBe(true);
      expect(epsilonError).toBeGreaterThanOrEqual(0);
      expect(epsilon).toBeLessThanOrEqual(rdp + epsilonError);
    }
  });

  it('handles rounds that release nothing, no noise, and bad arguments', () => {
    expect(prvEpsilon([], DELTA)).toEqual({ epsilon: 0, epsilonError: 0, accountant: 'prv' });
    expect(prvEpsilon([{ noiseMultiplier: 1, samplingRate: 0, rounds: 10 }], DELTA).epsilon).toBe(0);
    expect(prvEpsilon([{ noiseMultiplier: 1, samplingRate: 0.1, rounds: 0 }], DELTA).epsilon).toBe(0);
    expect(prvEpsilon([{ noiseMultiplier: 0, samplingRate: 0.1 }], DELTA).epsilon).toBe(Infinity);
    expect(() => prvEpsilon([{ noiseMultiplier: 1, samplingRate: 1.5 }], DELTA)).toThrow(RangeError);
    expect(() => prvEpsilon([{ noiseMultiplier: -1, samplingRate: 0.5 }], DELTA)).toThrow(RangeError);
    expect(() => prvEpsilon([{ noiseMultiplier: 1, samplingRate: 0.5, rounds: 1.5 }], DELTA)).toThrow(RangeError);
    expect(() => prvEpsilon([{ noiseMultiplier: 1, samplingRate: 0.5 }], 0)).toThrow(RangeError);
    expect(() => prvEpsilon([{ noiseMultiplier: 1, samplingRate: 0.5 }], DELTA, { maxGridSize: 1000 })).toThrow(RangeError);
  });

  it('a looser error target gives a coarser grid whose stated error is still honest', () => {
    const record = [{ noiseMultiplier: 1, samplingRate: 1, rounds: 100 }];
    const coarse = prvEpsilon(record, DELTA, { epsilonErrorTarget: 0.1 });
    expect(coarse.epsilonError).toBeGreaterThan(prvEpsilon(record, DELTA).epsilonError);
    expect(coarse.epsilonError).toBeLessThanOrEqual(0.1);
    expect(coarse.epsilon).toBeGreaterThanOrEqual(analytic([[1, 100]]));
  });
});

describe('epsilonFor', () => {
  it('dispatches to RDP (with its order) and PRV (with its error), PRV by default', () => {
    const record = { noiseMultiplier: 1.1, samplingRate: 0.01, rounds: 500 };
    const rdp = epsilonFor([record], DELTA, 'rdp');
    expect(rdp).toEqual({ ...computeEpsilon({ ...record, delta: DELTA }) });
    const prv = epsilonFor([record], DELTA);
    expect(prv.accountant).toBe('prv');
    expect(prv.order).toBeUndefined();
    expect(prv.epsilon).toBe(prvEpsilon([record], DELTA).epsilon);
    expect(prv.epsilon).toBeLessThan(rdp.epsilon);
  });

  it('gives ε = 0 for no records with either accountant', () => {
    expect(epsilonFor([], DELTA).epsilon).toBe(0);
    expect(epsilonFor([], DELTA, 'rdp').epsilon).toBe(0);
  });

  it('rejects an unknown accountant', () => {
    expect(() => epsilonFor([], DELTA, 'moments' as never)).toThrow(/unknown accountant/);
  });
});
