import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNTANT } from '../../src/core/privacy/index.js';
import type { PrivacyReport } from '../../src/app/contract.js';
import { parameterCount, MODEL_SPECS } from '../../src/core/model/index.js';
import { capForRounds, defaultCapRounds, epsilonBand, marginalCost, noiseHealth, SWAMPED_RATIO } from '../../src/renderer/src/privacy-scale.js';

/** Projections as the app makes them: ε after the next k rounds at z, q (PRV accountant, δ 1e-5). */
function projectionsFor(z: number, q: number, rounds: number): PrivacyReport['projections'] {
  return Array.from({ length: rounds }, (_, i) => {
    const records = (rate: number) => Array.from({ length: i + 1 }, () => ({ noiseMultiplier: z, samplingRate: rate }));
    return { k: i + 1, promised: DEFAULT_ACCOUNTANT.epsilon(records(q), 1e-5), worstCase: DEFAULT_ACCOUNTANT.epsilon(records(1), 1e-5), withinCap: true };
  });
}

describe('the cap a person picks by rounds', () => {
  const projections = projectionsFor(1, 0.5, 10);

  it('suggests half the remaining rounds, so the cap binds before the end', () => {
    expect(defaultCapRounds(10)).toBe(5);
    expect(defaultCapRounds(7)).toBe(4);
    expect(defaultCapRounds(1)).toBe(1);
    expect(defaultCapRounds(0)).toBe(1);
    const cap = capForRounds(projections, defaultCapRounds(10), 'worst-case')!;
    expect(cap).toBeLessThan(projections[9].worstCase!);
  });

  it('lets exactly k rounds through: the cap is at least round k and below round k + 1, in the chosen view', () => {
    for (const view of ['worst-case', 'promised'] as const) {
      for (const k of [1, 3, 5]) {
        const cap = capForRounds(projections, k, view)!;
        const at = (j: number) => (view === 'worst-case' ? projections[j - 1].worstCase! : projections[j - 1].promised!);
        expect(cap).toBeGreaterThanOrEqual(at(k));
        expect(cap).toBeLessThan(at(k + 1));
        expect(Math.round(cap * 1000)).toBeCloseTo(cap * 1000, 9);
      }
    }
    expect(capForRounds(projections, 11, 'worst-case')).toBeNull();
    expect(capForRounds([{ k: 1, promised: null, worstCase: null, withinCap: false }], 1, 'worst-case')).toBeNull();
  });
});

describe('the marginal cost of the next round', () => {
  it('is the difference to the projection, and it shrinks round after round (composition is sublinear)', () => {
    const projections = projectionsFor(1, 1, 6);
    const after = (k: number) =>
      marginalCost({ promised: projections[k - 1].promised, worstCase: projections[k - 1].worstCase, projections: projections.slice(k) })!;
    const first = marginalCost({ promised: 0, worstCase: 0, projections })!;
    expect(first.worstCase).toBeCloseTo(projections[0].worstCase!, 12);
    expect(after(1).worstCase).toBeCloseTo(projections[1].worstCase! - projections[0].worstCase!, 12);
    expect(after(1).worstCase!).toBeLessThan(first.worstCase!);
    expect(after(4).worstCase!).toBeLessThan(after(1).worstCase!);
    expect(marginalCost({ promised: null, worstCase: null, projections })).toEqual({ promised: null, worstCase: null });
    expect(marginalCost({ promised: 1, worstCase: 1, projections: [] })).toBeNull();
  });
});

describe('the ε scale', () => {
  it('puts values in bands at 1, 3 and 10; unbounded is weak', () => {
    expect(epsilonBand(0.5).level).toBe('strong');
    expect(epsilonBand(1).level).toBe('strong');
    expect(epsilonBand(2.9).level).toBe('good');
    expect(epsilonBand(8).level).toBe('moderate');
    expect(epsilonBand(17.14).level).toBe('weak');
    expect(epsilonBand(null).level).toBe('weak');
  });
});

describe('noise health', () => {
  const central = (z: number, n: number) => ({ dp: { mode: 'central' as const, noiseMultiplier: z, clipNorm: 1, delta: 1e-5 }, expectedClients: n });

  it('flags the issue case (MLP, z 1, 2 members) as swamped, and a large cohort as fine', () => {
    const mlp = parameterCount(MODEL_SPECS.mlp);
    const swamped = noiseHealth(central(1, 2), mlp)!;
    expect(swamped.ratio).toBeCloseTo(Math.sqrt(199_210) / 2, 9);
    expect(swamped.level).toBe('swamped');
    expect(noiseHealth(central(1, 1000), mlp)).toEqual({ ratio: Math.sqrt(199_210) / 1000, level: 'ok' });
  });

  it('reads the shipped example (logreg, z 0.3, 2 members) as high but not swamped', () => {
    const health = noiseHealth(central(0.3, 2), parameterCount(MODEL_SPECS.logreg))!;
    expect(health.level).toBe('high');
    expect(health.ratio).toBeLessThan(SWAMPED_RATIO);
  });

  it('scales local noise by √n̄ (each member adds the full noise), and says nothing without noise or sizes', () => {
    const local = noiseHealth({ ...central(1, 4), dp: { ...central(1, 4).dp, mode: 'local' } }, 10_000)!;
    expect(local.ratio).toBeCloseTo((1 / 2) * 100, 9);
    expect(noiseHealth({ ...central(1, 2), dp: { ...central(1, 2).dp, mode: 'off' } }, 10_000)).toBeNull();
    expect(noiseHealth({ dp: central(1, 2).dp }, 10_000)).toBeNull();
    expect(noiseHealth(central(1, 2), undefined)).toBeNull();
  });
});
