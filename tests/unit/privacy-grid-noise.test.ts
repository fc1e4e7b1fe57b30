import { describe, expect, it } from 'vitest';
import { addGridGaussianNoise, gridNoiseFor, MAX_DISCRETE_GAUSSIAN_SIGMA } from '../../src/core/privacy/index.js';

describe('central noise on a grid (Mironov 2012 mitigation)', () => {
  it('every output is a grid point k·γ, whatever the input, and the noise std is z·(C + √d·γ)', async () => {
    const d = 40_000;
    const z = 1.1;
    const C = 0.75;
    const grid = gridNoiseFor(d, z, C);
    expect(Number.isInteger(Math.log2(grid.step))).toBe(true); // a power of two: scaling by it is exact
    expect(grid.sensitivity).toBe(C + Math.sqrt(d) * grid.step);
    expect(grid.sensitivity / C - 1).toBeLessThan(1e-3);
    // Inputs that are not on the grid, including values whose doubles are irregular (tiny, huge, subnormal).
    const sum = new Float64Array(d);
    for (let i = 0; i < d; i++) sum[i] = [1 / 3, -2.718281828, 1e-300, 5e-324, 123.456789, 0][i % 6] * (1 + i / d);
    const out = await addGridGaussianNoise(sum, z, C);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const k = out[i] / grid.step;
      expect(Number.isSafeInteger(k), `coordinate ${i}`).toBe(true);
      sq += (out[i] - Math.round(sum[i] / grid.step) * grid.step) ** 2;
    }
    const std = Math.sqrt(sq / d);
    // Relative standard error of the std estimate: 1/√(2d) ≈ 0.35%; 2% is ~6 of them.
    expect(Math.abs(std / (z * grid.sensitivity) - 1)).toBeLessThan(0.02);
  });

  it('keeps the sampler within its σ range for large z, and refuses a sum it cannot place on the grid', async () => {
    for (const z of [0.01, 1, 64, 65, 1000]) {
      for (const C of [1e-3, 1, 100]) {
        const g = gridNoiseFor(1_663_370, z, C);
        expect(g.sigmaSteps, `z=${z} C=${C}`).toBeLessThanOrEqual(MAX_DISCRETE_GAUSSIAN_SIGMA);
        expect(g.sigmaSteps).toBeGreaterThan(2 ** 10);
      }
    }
    expect(() => gridNoiseFor(1_663_370, 1e6, 1)).toThrow(/too large for grid noise/);
    await expect(addGridGaussianNoise(Float64Array.of(1e300), 1, 1)).rejects.toThrow(/too large for the noise grid/);
  });
});
