import { describe, expect, it } from 'vitest';
import { addGaussianNoise, clipToNorm, gaussianSamples, l2Norm, updateDelta } from '../../src/core/privacy/index.js';
import { clipInPlace } from '../../src/core/privacy/clip.js';
import { addGaussianNoiseInPlace } from '../../src/core/privacy/noise.js';

/** Element-wise equality (faster than deep equality for long arrays). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/** Float32 norm computed independently of the module under test. */
function float32Norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

describe('gaussianSamples / addGaussianNoise', () => {
  it('has the requested std and zero mean over 10⁶ draws', async () => {
    const n = 1_000_000;
    const std = 2.5;
    const xs = await gaussianSamples(n, std);
    expect(xs).toHaveLength(n);
    let mean = 0;
    for (const x of xs) mean += x;
    mean /= n;
    let variance = 0;
    for (const x of xs) variance += (x - mean) ** 2;
    const sd = Math.sqrt(variance / (n - 1));
    expect(Math.abs(sd - std) / std).toBeLessThan(0.01);
    expect(Math.abs(mean)).toBeLessThan((3 * std) / Math.sqrt(n));
    expect(xs.every(Number.isFinite)).toBe(true);
  });

  it('draws fresh noise each call', async () => {
    const [a, b] = await Promise.all([gaussianSamples(8, 1), gaussianSamples(8, 1)]);
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('handles odd lengths, zero length and zero std', async () => {
    expect(await gaussianSamples(0, 1)).toHaveLength(0);
    const odd = await gaussianSamples(7, 1);
    expect(odd).toHaveLength(7);
    expect(odd[6]).not.toBe(0);
    expect(Array.from(await gaussianSamples(5, 0))).toEqual([0, 0, 0, 0, 0]);
  });

  it('addGaussianNoise returns a new array and leaves the input untouched', async () => {
    const v = new Float32Array([1, 2, 3, 4, 5]);
    const copy = v.slice();
    const noisy = await addGaussianNoise(v, 1);
    expect(noisy).not.toBe(v);
    expect(noisy).toBeInstanceOf(Float32Array);
    expect(Array.from(v)).toEqual(Array.from(copy));
    expect(Array.from(noisy)).not.toEqual(Array.from(v));
  });

  it('adds noise of the requested std to a model-sized vector in place, letting timers run while it draws', async () => {
    const v = new Float32Array(1_660_000).fill(3);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const noisy = await addGaussianNoiseInPlace(v, 0.5);
    clearInterval(timer);
    expect(noisy).toBe(v);
    let s = 0;
    for (const x of noisy) s += (x - 3) ** 2;
    expect(Math.abs(Math.sqrt(s / noisy.length) - 0.5) / 0.5).toBeLessThan(0.01);
    // The draw yields to the event loop between slices, so a server's sockets and timers are not stalled by it.
    expect(ticks).toBeGreaterThan(0);
  });

  it('rejects bad arguments', async () => {
    await expect(gaussianSamples(-1, 1)).rejects.toThrow(RangeError);
    await expect(gaussianSamples(1.5, 1)).rejects.toThrow(RangeError);
    await expect(gaussianSamples(4, -1)).rejects.toThrow(RangeError);
    await expect(gaussianSamples(4, Number.NaN)).rejects.toThrow(RangeError);
  });
});

describe('clipToNorm', () => {
  it('keeps every clipped vector within C and leaves short ones unchanged', () => {
    const C = 1.7;
    const uniform = (n: number): number[] => Array.from(crypto.getRandomValues(new Uint32Array(n)), (w) => (w + 0.5) / 2 ** 32);
    for (let k = 0; k < 200; k++) {
      const [u0, u1] = uniform(2);
      const dim = 1 + Math.floor(u0 * 5000);
      const targetNorm = C * 10 ** (u1 * 8 - 3); // 1e-3·C .. 1e5·C
      const v = Float32Array.from(uniform(dim), (u) => u - 0.5);
      const raw = float32Norm(v);
      for (let i = 0; i < dim; i++) v[i] *= targetNorm / raw;
      const before = v.slice();
      const { clipped, norm, scale } = clipToNorm(v, C);
      expect(sameValues(v, before)).toBe(true);
      expect(clipped).not.toBe(v);
      expect(float32Norm(clipped)).toBeLessThanOrEqual(C * (1 + 1e-6));
      expect(norm).toBeCloseTo(float32Norm(v), 6);
      if (norm <= C) {
        expect(scale).toBe(1);
        expect(sameValues(clipped, v)).toBe(true);
      } else {
        expect(scale).toBeLessThan(1);
        expect(Math.abs(float32Norm(clipped) - C) / C).toBeLessThan(1e-5);
      }
    }
  });

  it('clipInPlace scales the array it is given and reports the same norm and factor as clipToNorm', () => {
    const v = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const copy = clipToNorm(v, 2);
    const result = clipInPlace(v, 2);
    expect(result).toEqual({ norm: copy.norm, scale: copy.scale });
    expect(sameValues(v, copy.clipped)).toBe(true);
    expect(float32Norm(v)).toBeLessThanOrEqual(2);
  });

  it('handles a zero vector and rejects bad input', () => {
    expect(clipToNorm(new Float32Array(3), 1)).toEqual({ clipped: new Float32Array(3), norm: 0, scale: 1 });
    expect(() => clipToNorm(new Float32Array([1, Number.NaN]), 1)).toThrow(RangeError);
    expect(() => clipToNorm(new Float32Array([1, Infinity]), 1)).toThrow(RangeError);
    expect(() => clipToNorm(new Float32Array([1]), 0)).toThrow(RangeError);
  });

  it('l2Norm accumulates in float64', () => {
    expect(l2Norm(new Float32Array([3, 4]))).toBe(5);
    expect(l2Norm(new Float32Array(1_000_000).fill(1))).toBe(1000);
  });
});

describe('updateDelta', () => {
  it('is local minus the received global weights', () => {
    const d = updateDelta(new Float32Array([1, 2, 3]), new Float32Array([0.5, 2, 4]));
    expect(Array.from(d)).toEqual([0.5, 0, -1]);
  });

  it('rejects length mismatch and non-finite values', () => {
    expect(() => updateDelta(new Float32Array(3), new Float32Array(2))).toThrow(RangeError);
    expect(() => updateDelta(new Float32Array([Number.NaN]), new Float32Array([0]))).toThrow(RangeError);
    expect(() => updateDelta(new Float32Array([0]), new Float32Array([Infinity]))).toThrow(RangeError);
    expect(() => updateDelta(new Float32Array([3e38]), new Float32Array([-3e38]))).toThrow(RangeError);
  });
});
