import { describe, expect, it } from 'vitest';
import { secureUniform, selectCohort } from '../../server/cohort.js';
import { Rng } from '../../src/core/data/rng.js';

const CLIENTS = Array.from({ length: 50 }, (_, i) => `client-${String(i).padStart(2, '0')}`);

function seeded(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.nextFloat();
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  return new Rng(seed).shuffle([...xs]);
}

describe('selectCohort', () => {
  it('with q = 1 returns everyone, sorted, without drawing and without touching the input', () => {
    const input = ['zed', 'alice', 'bob', 'Carol', 'alice2'];
    const copy = [...input];
    const noDraws = () => {
      throw new Error('q = 1 must not draw');
    };
    const out = selectCohort(input, 1, noDraws);
    expect(out).toEqual(['Carol', 'alice', 'alice2', 'bob', 'zed']);
    expect(out).not.toBe(input);
    expect(input).toEqual(copy);
    expect(selectCohort(shuffled(CLIENTS, 3), 1, noDraws)).toEqual(CLIENTS);
    expect(selectCohort([], 1, noDraws)).toEqual([]);
  });

  it('Poisson sampling: mean cohort size within 3 standard errors of q·n, variance near n·q(1−q), inclusion ≈ q', () => {
    const q = 0.3;
    const n = CLIENTS.length;
    const trials = 20_000;
    const uniform = seeded(12345);
    const inclusions = new Map<string, number>(CLIENTS.map((c) => [c, 0]));
    let sum = 0;
    let sumSq = 0;
    for (let t = 0; t < trials; t++) {
      const cohort = selectCohort(CLIENTS, q, uniform);
      sum += cohort.length;
      sumSq += cohort.length ** 2;
      for (const c of cohort) inclusions.set(c, inclusions.get(c)! + 1);
    }
    const mean = sum / trials;
    const variance = sumSq / trials - mean * mean;
    const binomialVar = n * q * (1 - q); // 10.5
    const se = Math.sqrt(binomialVar / trials);
    expect(Math.abs(mean - q * n)).toBeLessThan(3 * se);
    // Independent inclusion gives binomial variance; e.g. a fixed-size cohort would give 0.
    expect(Math.abs(variance - binomialVar) / binomialVar).toBeLessThan(0.05);

    const perClientSe = Math.sqrt((q * (1 - q)) / trials);
    for (const [client, count] of inclusions) {
      expect(Math.abs(count / trials - q), client).toBeLessThan(5 * perClientSe);
    }
  });

  it('returns a sorted subset of the eligible clients', () => {
    const uniform = seeded(1);
    for (let t = 0; t < 50; t++) {
      const cohort = selectCohort(shuffled(CLIENTS, t), 0.5, uniform);
      expect(cohort).toEqual([...cohort].sort());
      expect(new Set(cohort).size).toBe(cohort.length);
      for (const c of cohort) expect(CLIENTS).toContain(c);
    }
  });

  it('gives the same cohorts for the same seed, whatever order the clients arrive in', () => {
    const orders = [CLIENTS, [...CLIENTS].reverse(), shuffled(CLIENTS, 77), shuffled(CLIENTS, 78)];
    const runs = orders.map((order) => {
      const uniform = seeded(2026);
      return Array.from({ length: 20 }, () => selectCohort(order, 0.2, uniform));
    });
    for (const run of runs.slice(1)) expect(run).toEqual(runs[0]);
    // Not trivially equal: the rounds differ from each other, and another seed gives other cohorts.
    expect(new Set(runs[0].map((c) => c.join(','))).size).toBeGreaterThan(1);
    const other = seeded(2027);
    const otherRun = Array.from({ length: 20 }, () => selectCohort(CLIENTS, 0.2, other));
    expect(otherRun).not.toEqual(runs[0]);
  });

  it('takes a client exactly when its draw is below q', () => {
    const draws = [0.1, 0.5, 0.29999, 0.3, 0.9];
    let i = 0;
    const out = selectCohort(['e', 'd', 'c', 'b', 'a'], 0.3, () => draws[i++]);
    expect(out).toEqual(['a', 'c']);
    expect(i).toBe(5);
  });
});

describe('secureUniform', () => {
  it('returns values in [0, 1) that look uniform', () => {
    const n = 20_000;
    let sum = 0;
    let below = 0;
    let min = Infinity;
    let max = -Infinity;
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const u = secureUniform();
      min = Math.min(min, u);
      max = Math.max(max, u);
      sum += u;
      if (u < 0.25) below += 1;
      seen.add(u);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // Mean 1/2 (sd of the mean ≈ 0.002) and a quarter below 0.25 (sd ≈ 0.003): 7+ sd margins.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.015);
    expect(Math.abs(below / n - 0.25)).toBeLessThan(0.025);
    expect(seen.size).toBeGreaterThan(n - 5);
  });

  it('drives selectCohort', () => {
    const cohort = selectCohort(CLIENTS, 0.5, secureUniform);
    expect(cohort.length).toBeGreaterThan(0);
    expect(cohort.length).toBeLessThan(CLIENTS.length);
  });
});
