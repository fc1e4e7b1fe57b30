import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/data/rng.js';

function draws(seed: number, n = 8): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.nextUint32());
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds (including high bits)', () => {
    expect(draws(42)).toEqual(draws(42));
    expect(draws(42)).not.toEqual(draws(43));
    expect(draws(1)).not.toEqual(draws(1 + 2 ** 32));
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });

  it('nextFloat stays in [0, 1) with mean near 1/2', () => {
    const rng = new Rng(7);
    const xs = Array.from({ length: 20_000 }, () => rng.nextFloat());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(mean(xs)).toBeCloseTo(0.5, 1);
  });

  it('nextInt covers [0, n) evenly', () => {
    const rng = new Rng(3);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.nextInt(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(() => rng.nextInt(0)).toThrow(RangeError);
  });

  it('shuffle permutes in place, reproducibly', () => {
    const a = Array.from({ length: 100 }, (_, i) => i);
    const b = [...a];
    expect(new Rng(5).shuffle(a)).toBe(a);
    new Rng(5).shuffle(b);
    expect(a).toEqual(b);
    expect(a).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('gamma has mean and variance equal to its shape, above and below 1', () => {
    const rng = new Rng(11);
    for (const shape of [0.3, 1, 4.5]) {
      const xs = Array.from({ length: 40_000 }, () => rng.gamma(shape));
      const m = mean(xs);
      const v = mean(xs.map((x) => (x - m) ** 2));
      expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
      expect(Math.abs(m - shape) / shape).toBeLessThan(0.05);
      expect(Math.abs(v - shape) / shape).toBeLessThan(0.1);
    }
  });

  it('dirichlet sums to 1 even for a tiny alpha', () => {
    const rng = new Rng(2);
    for (const alpha of [0.001, 0.1, 100]) {
      const p = rng.dirichlet(alpha, 50);
      expect(p).toHaveLength(50);
      expect(p.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });
});
