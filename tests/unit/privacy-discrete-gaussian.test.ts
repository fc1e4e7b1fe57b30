import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  addDiscreteGaussianNoise,
  discreteGaussianSamples,
  discreteGaussianVariance,
  distributedDiscreteGaussianRdp,
  distributedDiscreteGaussianTau,
} from '../../src/core/privacy/index.js';

/** Mean and unbiased variance, in doubles (exact for int32 samples at these sizes). */
function moments(xs: Int32Array): { mean: number; variance: number } {
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { mean, variance: ss / (xs.length - 1) };
}

/** Normalised pmf exp(−k²/2σ²)/Z on k ∈ [−K, K], Z summed here (not by the module under test). */
function pmf(sigma: number, K: number): Map<number, number> {
  const w = new Map<number, number>();
  let z = 0;
  for (let k = -K; k <= K; k++) {
    const p = Math.exp(-(k * k) / (2 * sigma * sigma));
    w.set(k, p);
    z += p;
  }
  for (const [k, p] of w) w.set(k, p / z);
  return w;
}

/** P(χ²_ν ≥ x) for even ν: e^(−x/2) Σ_{j<ν/2} (x/2)^j / j!. */
function chiSquareSurvivalEven(x: number, dof: number): number {
  let term = 1;
  let sum = 1;
  for (let j = 1; j < dof / 2; j++) {
    term *= x / 2 / j;
    sum += term;
  }
  return Math.exp(-x / 2) * sum;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('discreteGaussianVariance (pmf oracle)', () => {
  it('is far below σ² for σ = 0.5, matches the hand-summed pmf, and ≈ σ² from σ = 1', () => {
    // σ = 0.5: P ∝ e^(−2k²): Var = 2(e^−2 + 4e^−8 + 9e^−18)/(1 + 2(e^−2 + e^−8 + e^−18)).
    const e = Math.exp;
    const byHand = (2 * (e(-2) + 4 * e(-8) + 9 * e(-18))) / (1 + 2 * (e(-2) + e(-8) + e(-18)));
    expect(discreteGaussianVariance(0.5)).toBeCloseTo(byHand, 12);
    expect(discreteGaussianVariance(0.5)).toBeCloseTo(0.215, 3);
    expect(discreteGaussianVariance(1)).toBeLessThan(1);
    expect(discreteGaussianVariance(1)).toBeGreaterThan(1 - 1e-6);
    for (const s of [2, 30, 1e6, 3e6]) expect(discreteGaussianVariance(s) / (s * s)).toBeCloseTo(1, 10);
  });
});

describe('discreteGaussianSamples', () => {
  it.each([
    [0.5, 400_000],
    [2, 400_000],
    [30, 400_000],
    [1e6, 400_000],
  ])('σ = %d: integer samples with mean within 4 standard errors of 0 and the pmf variance within 2%%', async (sigma, n) => {
    const xs = await discreteGaussianSamples(n, sigma);
    expect(xs).toBeInstanceOf(Int32Array);
    expect(xs).toHaveLength(n);
    const target = discreteGaussianVariance(sigma);
    const { mean, variance } = moments(xs);
    expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(target / n));
    expect(Math.abs(variance / target - 1)).toBeLessThan(0.02);
  });

  it('σ = 2: the empirical pmf fits exp(−k²/2σ²)/Z on [−8, 8] plus both tails (χ², p > 1e-4)', async () => {
    const sigma = 2;
    const n = 1_000_000;
    const K = 8;
    const xs = await discreteGaussianSamples(n, sigma);
    const p = pmf(sigma, 60); // mass beyond ±60 is below e^−450
    const counts = new Map<number, number>();
    for (const x of xs) {
      const bin = x < -K ? -K - 1 : x > K ? K + 1 : x; // ±(K+1) hold the tails
      counts.set(bin, (counts.get(bin) ?? 0) + 1);
    }
    let tail = 0;
    for (const [k, q] of p) if (k > K) tail += q;
    let chi2 = 0;
    for (let bin = -K - 1; bin <= K + 1; bin++) {
      const expected = n * (Math.abs(bin) > K ? tail : p.get(bin)!);
      expect(expected).toBeGreaterThan(5); // χ² approximation holds
      chi2 += ((counts.get(bin) ?? 0) - expected) ** 2 / expected;
    }
    const bins = 2 * K + 3;
    expect(chiSquareSurvivalEven(chi2, bins - 1)).toBeGreaterThan(1e-4);
  });

  it('is symmetric with no excess at 0 (the negative-zero redraw) for small σ', async () => {
    const n = 400_000;
    const xs = await discreteGaussianSamples(n, 0.5);
    const p = pmf(0.5, 10);
    let zeros = 0;
    let plus = 0;
    let minus = 0;
    for (const x of xs) {
      if (x === 0) zeros++;
      else if (x === 1) plus++;
      else if (x === -1) minus++;
    }
    const sd0 = Math.sqrt(n * p.get(0)! * (1 - p.get(0)!));
    expect(Math.abs(zeros - n * p.get(0)!)).toBeLessThan(5 * sd0);
    const sd1 = Math.sqrt(n * p.get(1)! * (1 - p.get(1)!));
    expect(Math.abs(plus - n * p.get(1)!)).toBeLessThan(5 * sd1);
    expect(Math.abs(minus - n * p.get(-1)!)).toBeLessThan(5 * sd1);
  });

  it('draws from libsodium, never Math.random, and fresh values each call', async () => {
    const spy = vi.spyOn(Math, 'random');
    const [a, b] = await Promise.all([discreteGaussianSamples(64, 1e3), discreteGaussianSamples(64, 1e3)]);
    expect(spy).not.toHaveBeenCalled();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(await discreteGaussianSamples(0, 1)).toHaveLength(0);
  });

  it('rejects a bad σ or count', async () => {
    for (const sigma of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 28 + 1]) {
      await expect(discreteGaussianSamples(4, sigma)).rejects.toThrow(RangeError);
      await expect(addDiscreteGaussianNoise(new Uint32Array(4), sigma)).rejects.toThrow(RangeError);
    }
    await expect(discreteGaussianSamples(-1, 1)).rejects.toThrow(RangeError);
    await expect(discreteGaussianSamples(1.5, 1)).rejects.toThrow(RangeError);
    // the largest σ secure aggregation's no-wrap bound allows (one client) is accepted
    const largest = await discreteGaussianSamples(1000, 2 ** 31 / 10);
    expect(largest.some((x) => Math.abs(x) > 2 ** 26)).toBe(true);
    await expect(discreteGaussianSamples(4, 2 ** 28)).resolves.toHaveLength(4);
  });
});

describe('addDiscreteGaussianNoise', () => {
  it('adds noise in place mod 2^32: negative noise on 0 wraps to just below 2^32', async () => {
    const n = 100_000;
    const sigma = 1000;
    const values = new Uint32Array(n); // all 0
    await addDiscreteGaussianNoise(values, sigma);
    let wrapped = 0;
    let sum = 0;
    let ss = 0;
    for (const v of values) {
      expect(v < 40 * sigma || v > 2 ** 32 - 40 * sigma).toBe(true);
      if (v > 2 ** 31) wrapped++;
      const signed = v | 0; // two's complement view
      sum += signed;
      ss += signed * signed;
    }
    expect(wrapped / n).toBeGreaterThan(0.48);
    expect(wrapped / n).toBeLessThan(0.52);
    expect(Math.abs(sum / n)).toBeLessThan(4 * (sigma / Math.sqrt(n)));
    expect(Math.abs(ss / n / discreteGaussianVariance(sigma) - 1)).toBeLessThan(0.03);
  });

  it('wraps at the top too and keeps the two-complement value: (2^32 − 5) + x ≡ x − 5', async () => {
    const n = 50_000;
    const values = new Uint32Array(n).fill(2 ** 32 - 5);
    await addDiscreteGaussianNoise(values, 10);
    let sum = 0;
    for (const v of values) {
      expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
      sum += v | 0;
    }
    expect(Math.abs(sum / n + 5)).toBeLessThan(4 * (10 / Math.sqrt(n)));
  });
});

describe('distributed discrete Gaussian (Kairouz, Liu, Steinke 2021)', () => {
  it('τ is 10·Σ exp(−2π²σ²k/(k+1)): sizeable for σ = 1/2, negligible at σ = 2, 0 for our σ', () => {
    expect(distributedDiscreteGaussianTau(0.5, 1)).toBe(0);
    expect(distributedDiscreteGaussianTau(0.5, 2)).toBeCloseTo(10 * Math.exp(-(Math.PI ** 2) / 4), 12);
    expect(distributedDiscreteGaussianTau(0.5, 3)).toBeCloseTo(10 * (Math.exp(-(Math.PI ** 2) / 4) + Math.exp(-(Math.PI ** 2) / 3)), 12);
    expect(distributedDiscreteGaussianTau(2, 1000)).toBeLessThan(1e-16);
    expect(distributedDiscreteGaussianTau(1e3, 1000)).toBe(0);
    expect(() => distributedDiscreteGaussianTau(0, 2)).toThrow(RangeError);
    expect(() => distributedDiscreteGaussianTau(1, 0)).toThrow(RangeError);
  });

  it('t shares of σ_int = zΔ/√t give the Gaussian RDP α/(2z²) of the sum (τ·d ≈ 0)', () => {
    const z = 1.1;
    const t = 8;
    const delta = 2 ** 20; // integer ℓ2 sensitivity
    const sigma = (z * delta) / Math.sqrt(t);
    for (const order of [2, 8, 32]) {
      const rdp = distributedDiscreteGaussianRdp({ order, sigma, summands: t, l2Sensitivity: delta, dimension: 1_663_370 });
      expect(rdp).toBeCloseTo(order / (2 * z * z), 12);
      // more survivors than t only add noise
      expect(distributedDiscreteGaussianRdp({ order, sigma, summands: 2 * t, l2Sensitivity: delta, dimension: 1_663_370 })).toBeLessThan(rdp);
    }
    // small σ: τ·d dominates and the bound is worse than the Gaussian's
    const small = distributedDiscreteGaussianRdp({ order: 2, sigma: 0.5, summands: 4, l2Sensitivity: 1, dimension: 10 });
    expect(small).toBeGreaterThan(2 / (2 * 4 * 0.25));
    expect(() => distributedDiscreteGaussianRdp({ order: 2, sigma: 0.4, summands: 4, l2Sensitivity: 1, dimension: 1 })).toThrow(RangeError);
  });
});
