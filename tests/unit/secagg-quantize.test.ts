import { describe, expect, it } from 'vitest';
import { dequantizeSum, distributedNoiseSigma, integerSensitivity, quantizationScale, quantize, worstCaseSum } from '../../src/core/secagg/index.js';
import type { NoiseMode } from '../../src/core/privacy/noise.js';

const INT32_MAX = 2 ** 31 - 1;

/** The no-wrap bound, restated independently of quantize.ts: n·(s·C + 1/2) + 10·σ_sum. */
function bound(s: number, o: { n: number; t: number; z: number; C: number; d: number; mode: NoiseMode }): number {
  const { n, t, z, C, d, mode } = o;
  const sigmaClient = mode === 'distributed' ? (z * (s * C + Math.sqrt(d) / 2)) / Math.sqrt(t) : mode === 'local' ? s * z * C : 0;
  return n * (s * C + 0.5) + 10 * Math.sqrt(n) * sigmaClient;
}

const CASES = [
  { n: 10, t: 6, z: 1.1, C: 1, d: 1_000, mode: 'distributed' },
  { n: 100, t: 67, z: 1.0, C: 0.5, d: 1_663_370, mode: 'distributed' },
  { n: 1000, t: 500, z: 0.8, C: 2, d: 100_000, mode: 'distributed' },
  { n: 50, t: 30, z: 1.2, C: 1, d: 10_000, mode: 'local' },
  { n: 100, t: 67, z: 1.0, C: 1, d: 1_663_370, mode: 'central' },
  { n: 7, t: 2, z: 0, C: 3, d: 5, mode: 'off' },
] as const;

describe('quantizationScale', () => {
  it.each(CASES)('is the largest scale that keeps the cohort sum inside int32 (n=$n t=$t z=$z C=$C d=$d $mode)', (c) => {
    const s = quantizationScale({ clipNorm: c.C, noiseMultiplier: c.z, mode: c.mode, cohortSize: c.n, threshold: c.t, length: c.d });
    expect(s).toBeGreaterThan(0);
    expect(bound(s, c)).toBeLessThanOrEqual(INT32_MAX);
    expect(worstCaseSum(s, { clipNorm: c.C, noiseMultiplier: c.z, mode: c.mode, cohortSize: c.n, threshold: c.t, length: c.d })).toBeCloseTo(bound(s, c), 0);
    // Largest: 1e-9 more scale breaks the bound.
    expect(bound(s * (1 + 1e-9), c)).toBeGreaterThan(INT32_MAX);
  });

  it('leaves no room for noise in off/central mode and less room the more noise clients add', () => {
    const base = { clipNorm: 1, noiseMultiplier: 1, cohortSize: 100, threshold: 50, length: 10_000 };
    const off = quantizationScale({ ...base, mode: 'off' });
    expect(quantizationScale({ ...base, mode: 'central' })).toBe(off);
    expect(off).toBeCloseTo((INT32_MAX - 50) / 100, 3);
    const local = quantizationScale({ ...base, mode: 'local' });
    const distributed = quantizationScale({ ...base, mode: 'distributed' });
    expect(local).toBeLessThan(off);
    expect(distributed).toBeLessThan(off);
    // Local: each client adds the full noise zC, √n times the distributed per-client share at t = n.
    expect(local).toBeCloseTo((INT32_MAX - 50) / (100 + 10 * Math.sqrt(100)), 3);
  });

  it.each(CASES)('the worst-case cohort sum (every client at +C on one coordinate, plus 10σ of noise) does not wrap ($mode, n=$n)', (c) => {
    const s = quantizationScale({ clipNorm: c.C, noiseMultiplier: c.z, mode: c.mode, cohortSize: c.n, threshold: c.t, length: c.d });
    const sigmaClient =
      c.mode === 'distributed'
        ? distributedNoiseSigma({ scale: s, clipNorm: c.C, noiseMultiplier: c.z, threshold: c.t, length: c.d })
        : c.mode === 'local'
          ? s * c.z * c.C
          : 0;
    const noise = Math.floor(10 * Math.sqrt(c.n) * sigmaClient);
    for (const sign of [1, -1]) {
      const one = quantize(Float32Array.of(sign * c.C), s)[0];
      // Sum mod 2^32 as the secure aggregation would, then add the noise's 10σ tail in integer units.
      let sum = 0;
      for (let i = 0; i < c.n; i++) sum = (sum + one) >>> 0;
      sum = (sum + ((sign * noise) >>> 0)) >>> 0;
      const readBack = dequantizeSum(Uint32Array.of(sum), s)[0];
      const exact = (c.n * Math.round(sign * c.C * s) + sign * noise) / s;
      expect(Math.sign(readBack)).toBe(sign);
      expect(Math.abs(readBack - exact)).toBeLessThanOrEqual(Math.abs(exact) * 2 ** -23);
      // The range is really used: one client more at +C (without noise) would pass the bound.
      expect((c.n + 1) * (s * c.C + 0.5) + 10 * Math.sqrt(c.n) * sigmaClient).toBeGreaterThan(INT32_MAX);
    }
  });

  it('throws a clear error when no positive scale exists', () => {
    // 10σ of distributed noise over a huge model with t = 1 alone exceeds 2^31.
    expect(() => quantizationScale({ clipNorm: 1, noiseMultiplier: 100, mode: 'distributed', cohortSize: 100, threshold: 1, length: 1e15 })).toThrow(
      /no fixed-point scale fits 100 clients/,
    );
    // The rounding error alone (n/2) of an absurd cohort.
    expect(() => quantizationScale({ clipNorm: 1, noiseMultiplier: 0, mode: 'off', cohortSize: 2 ** 33, threshold: 2, length: 10 })).toThrow(
      /no fixed-point scale/,
    );
    expect(() => quantizationScale({ clipNorm: 0, noiseMultiplier: 1, mode: 'off', cohortSize: 10, threshold: 2, length: 10 })).toThrow(/clipNorm/);
  });
});

describe('quantize / dequantizeSum', () => {
  it('round-trips within 1/(2s) per coordinate (plus float32 output rounding)', () => {
    const s = quantizationScale({ clipNorm: 1, noiseMultiplier: 1.1, mode: 'distributed', cohortSize: 100, threshold: 60, length: 4096 });
    const values = new Float32Array(4096);
    for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.37) * (i % 7 === 0 ? 1 : 0.01);
    const q = quantize(values, s);
    const back = dequantizeSum(q, s);
    for (let i = 0; i < values.length; i++) {
      // In exact arithmetic: |round(v·s)/s − v| ≤ 1/(2s).
      expect(Math.abs((q[i] | 0) / s - values[i])).toBeLessThanOrEqual(1 / (2 * s) + 1e-15);
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(1 / (2 * s) + Math.abs(values[i]) * 2 ** -24);
    }
  });

  it('stores negatives in two’s complement and reads the centred representative back', () => {
    const q = quantize(Float32Array.of(-1, 0, 1, -0.04), 100);
    expect([...q]).toEqual([2 ** 32 - 100, 0, 100, 2 ** 32 - 4]);
    expect([...dequantizeSum(q, 100)]).toEqual([-1, 0, 1, Math.fround(-0.04)]);
  });

  it('rejects values that do not fit the range or are not finite', () => {
    expect(() => quantize(Float32Array.of(3), 2 ** 30)).toThrow(/does not fit/);
    expect(() => quantize(Float32Array.of(NaN), 10)).toThrow(/does not fit/);
    expect(() => quantize(Float32Array.of(1), -1)).toThrow(/scale/);
  });
});

describe('sensitivity and distributed noise', () => {
  it('adds √d/2 of rounding to s·C, and splits z·Δ over √t clients', () => {
    expect(integerSensitivity(1000, 2, 10_000)).toBe(2000 + 50);
    const sigma = distributedNoiseSigma({ scale: 1000, clipNorm: 2, noiseMultiplier: 1.5, threshold: 9, length: 10_000 });
    expect(sigma).toBeCloseTo((1.5 * 2050) / 3, 9);
    // t survivors' independent shares sum to std z·Δ.
    expect(Math.sqrt(9) * sigma).toBeCloseTo(1.5 * 2050, 9);
  });
});
