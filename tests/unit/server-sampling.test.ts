import { describe, expect, it } from 'vitest';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { averagingDenominator, drawAttempt, plainShortfall } from '../../server/sampling.js';
import { Rng } from '../../src/core/data/rng.js';

const dp = (mode: 'off' | 'central' | 'local') => ({ mode, noiseMultiplier: 1.1, clipNorm: 1, delta: 1e-5 });
const config = (c: ServerConfigInput) => parseServerConfig(c);

describe('drawAttempt: one Poisson draw per attempt, charged in every DP mode', () => {
  it('the server loop, run 20,000 times for N = 3, q = 0.1, minClients 2: inclusion over charged attempts ≈ q (today 0.674)', () => {
    const members = ['a', 'b', 'c'];
    const rng = new Rng(11);
    const central = config({ dp: dp('central'), cohort: { samplingRate: 0.1, minClients: 2, expectedClients: 0.3 } });
    let charged = 0;
    let included = 0;
    for (let t = 0; t < 20_000; t++) {
      const draw = drawAttempt(central, members, () => rng.nextFloat());
      // The aggregator charges every draw and releases it whatever its size (plainShortfall is null with DP on).
      expect(plainShortfall(central, draw.cohort.length)).toBeNull();
      if (draw.charge) charged += 1;
      included += draw.cohort.length;
    }
    expect(charged).toBe(20_000);
    const inclusion = included / (members.length * charged);
    expect(Math.abs(inclusion - 0.1)).toBeLessThan(2.5758 * Math.sqrt((0.1 * 0.9) / (members.length * charged)));
  });

  it('charges z and q (q = 1 in local mode, where the server sees who sent what), nothing with DP off', () => {
    const cohort = { samplingRate: 0.2, expectedClients: 2 };
    expect(drawAttempt(config({ dp: dp('central'), cohort }), ['a'], () => 0).charge).toEqual({ noiseMultiplier: 1.1, samplingRate: 0.2 });
    expect(drawAttempt(config({ dp: dp('local'), cohort }), ['a'], () => 0).charge).toEqual({ noiseMultiplier: 1.1, samplingRate: 1 });
    expect(drawAttempt(config({ dp: dp('off'), cohort }), ['a'], () => 0)).toEqual({ cohort: ['a'], charge: null });
  });
});

describe('plainShortfall and averagingDenominator', () => {
  it('DP on: nothing is too few, and the denominator is the configured expected cohort size whatever arrived', () => {
    for (const mode of ['central', 'local'] as const) {
      const c = config({ dp: dp(mode), cohort: { samplingRate: 0.1, minClients: 3, expectedClients: 2.5 } });
      for (const count of [0, 1, 2, 3, 50]) expect(plainShortfall(c, count)).toBeNull();
      expect(averagingDenominator(c, 0)).toBe(2.5);
      expect(averagingDenominator(c, 700)).toBe(2.5);
    }
  });

  it('DP off: fewer than minClients is a reason (no privacy claim), and FedAvg divides by the example weight', () => {
    const c = config({ cohort: { minClients: 2 } });
    expect(plainShortfall(c, 1)).toBe('1 of the minimum 2 (DP off)');
    expect(plainShortfall(c, 2)).toBeNull();
    expect(averagingDenominator(c, 700)).toBe(700);
  });
});
