import { describe, expect, it } from 'vitest';
import { l2Norm, noisePlan, privatizeUpdate } from '../../src/core/privacy/index.js';

const update = (n: number, value: number) => new Float32Array(n).fill(value);
const dp = (mode: 'off' | 'central' | 'local' | 'distributed') => ({ mode, noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 });
/** The plan of a plain round, or of a secure one where the mode needs it (distributed). */
const plan = (mode: 'off' | 'central' | 'local' | 'distributed', secure = mode === 'distributed') => noisePlan(dp(mode), secure);

describe('privatizeUpdate: the client DP step of plain and secure rounds', () => {
  it('DP off: the update as it is, nothing measured', async () => {
    const delta = update(100, 3);
    const out = await privatizeUpdate(delta, plan('off'));
    expect(out).toEqual({ values: delta, updateNorm: 0, clipScale: 1 });
  });

  it('central and distributed: clipped to C, no noise added here', async () => {
    for (const mode of ['central', 'distributed'] as const) {
      const out = await privatizeUpdate(update(100, 1), plan(mode)); // norm 10
      expect(out.updateNorm).toBeCloseTo(10, 5);
      expect(out.clipScale).toBeCloseTo(0.1, 6);
      expect(l2Norm(out.values)).toBeCloseTo(1, 5);
      expect(new Set(out.values).size).toBe(1); // every coordinate scaled alike: no noise
      const delta = update(10, 1);
      expect((await privatizeUpdate(delta, plan(mode))).values).toBe(delta); // in place: no model-sized copy
    }
  });

  it('local: clipped to C, then N(0, z²C²) per coordinate from this client', async () => {
    const n = 200_000;
    const out = await privatizeUpdate(update(n, 0), plan('local'));
    const mean = out.values.reduce((a, v) => a + v, 0) / n;
    const std = Math.sqrt(out.values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    // z·C = 2; the sample std of 200,000 draws is within 1% of it with overwhelming probability.
    expect(Math.abs(std - 2) / 2).toBeLessThan(0.01);
    expect(Math.abs(mean)).toBeLessThan(0.03);
  });

  it('secure aggregation without DP: each coordinate clamped to ±C (the fixed-point range), nothing measured, no noise', async () => {
    const delta = new Float32Array([3, -0.5, -7, 1]);
    const out = await privatizeUpdate(delta, plan('off', true));
    expect([...out.values]).toEqual([1, -0.5, -1, 1]);
    expect(out.updateNorm).toBe(0);
    expect(out.clipScale).toBe(1);
  });
});
