import { describe, expect, it } from 'vitest';
import { secondAnswer } from '../../server/answers.js';
import { parseServerConfig } from '../../server/config.js';
import { checkAggregate, checkNewGlobal, maxAggregateNorm } from '../../server/global-guard.js';
import { adaptiveNormBound, boundUpdate, lowerMedian, updatePolicy, type CohortEvidence } from '../../server/update-policy.js';
import { createAccumulator, meanUpdate } from '../../src/core/aggregate/index.js';
import { l2Norm } from '../../src/core/privacy/index.js';
import { stringMatching } from '../helpers/matchers.js';

const D = 1000;
/** A cohort of three members declaring 600 examples each, before any round completed. */
const FIRST_ROUND: CohortEvidence = { declaredExamples: [600, 600, 600], lastMedianNorm: null };

function vector(value: number, length = D): Float32Array {
  return new Float32Array(length).fill(value);
}

describe('per-update bounds (finding 2)', () => {
  it('DP off: caps the example count used as the FedAvg weight and clips long updates, leaving short ones alone', () => {
    const config = parseServerConfig({});
    expect(config.aggregation).toEqual({ maxExamplesPerClient: 10_000, maxUpdateNorm: 10, normBoundMultiplier: 1.5 });
    const policy = updatePolicy(config, D, { declaredExamples: [20_000, 30_000], lastMedianNorm: null });
    const huge = boundUpdate({ values: vector(1e30), numExamples: 0xffffffff }, policy);
    expect(huge.weight).toBe(10_000);
    expect(huge.clipped).toBe(true);
    expect(huge.norm).toBeCloseTo(1e30 * Math.sqrt(D), -25);
    expect(l2Norm(huge.values)).toBeLessThanOrEqual(10);
    expect(l2Norm(huge.values)).toBeGreaterThan(9.999);
    const honest = boundUpdate({ values: vector(0.05), numExamples: 600 }, policy);
    expect(honest).toMatchObject({ weight: 600, clipped: false });
    expect(honest.values).toEqual(vector(0.05));
    expect(boundUpdate({ values: vector(0.05), numExamples: 0 }, policy).weight).toBe(1);
  });

  it('DP off: the weight cap is the median count the cohort declared, so one member cannot outweigh the typical one', () => {
    const config = parseServerConfig({});
    // The member that declared 2³²−1 at hello does not move the median of the cohort's declared counts.
    const policy = updatePolicy(config, D, { declaredExamples: [600, 0xffffffff, 500, 700], lastMedianNorm: null });
    expect(policy.maxWeight).toBe(600);
    expect(boundUpdate({ values: vector(0.01), numExamples: 0xffffffff }, policy).weight).toBe(600);
    expect(boundUpdate({ values: vector(0.01), numExamples: 500 }, policy).weight).toBe(500);
    // Two members: the smaller claim sets the cap; nobody declared anything: at least 1.
    expect(updatePolicy(config, D, { declaredExamples: [100, 0xffffffff], lastMedianNorm: null }).maxWeight).toBe(100);
    expect(updatePolicy(config, D, { declaredExamples: [0, 0, 5], lastMedianNorm: null }).maxWeight).toBe(1);
    expect(lowerMedian([])).toBeNull();
    expect(lowerMedian([3, 1, 2])).toBe(2);
  });

  it("DP off: the norm bound is min(maxUpdateNorm, κ × the last round's median norm), maxUpdateNorm before any round", () => {
    const config = parseServerConfig({ aggregation: { normBoundMultiplier: 3 } });
    expect(updatePolicy(config, D, FIRST_ROUND).normBound).toBe(10);
    expect(updatePolicy(config, D, { ...FIRST_ROUND, lastMedianNorm: 0.7 }).normBound).toBeCloseTo(2.1, 12);
    expect(updatePolicy(config, D, { ...FIRST_ROUND, lastMedianNorm: 50 }).normBound).toBe(10);
    // A median of 0 would freeze the model for good: the configured bound applies.
    expect(adaptiveNormBound(config.aggregation, 0)).toBe(10);
    const policy = updatePolicy(config, D, { ...FIRST_ROUND, lastMedianNorm: 0.5 });
    const erase = boundUpdate({ values: vector(-3), numExamples: 0xffffffff }, policy);
    expect(erase).toMatchObject({ weight: 600, clipped: true });
    expect(l2Norm(erase.values)).toBeLessThanOrEqual(1.5);
    expect(() => parseServerConfig({ aggregation: { normBoundMultiplier: 0.5 } })).toThrow(/normBoundMultiplier/);
  });

  it('central DP: equal weights, re-clipped to C; local DP: re-clipped to C plus the honest noise norm, not to C', () => {
    // DP modes keep C whatever the cohort looks like: the accountant relies on it.
    const central = updatePolicy(
      parseServerConfig({ cohort: { expectedClients: 4 }, dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 2, delta: 1e-5 } }),
      D,
      { declaredExamples: [1], lastMedianNorm: 0.01 },
    );
    expect(central).toEqual({ maxWeight: null, normBound: 2 });
    const sent = boundUpdate({ values: vector(1), numExamples: 0xffffffff }, central);
    expect(sent.weight).toBe(1);
    expect(l2Norm(sent.values)).toBeLessThanOrEqual(2);

    const local = updatePolicy(parseServerConfig({ cohort: { expectedClients: 4 }, dp: { mode: 'local', noiseMultiplier: 1, clipNorm: 2, delta: 1e-5 } }), D, {
      declaredExamples: [1],
      lastMedianNorm: 0.01,
    });
    // C + zC(√d + 10) = 2 + 2(31.62 + 10)
    expect(local.normBound).toBeCloseTo(2 + 2 * (Math.sqrt(D) + 10), 9);
    const noisy = new Float32Array(D).map((_, i) => (i % 2 ? 2 : -2)); // norm 2√d ≈ 63: what honest noise looks like
    expect(boundUpdate({ values: noisy, numExamples: 1 }, local).clipped).toBe(false);
    expect(boundUpdate({ values: vector(10), numExamples: 1 }, local).clipped).toBe(true);
  });

  it('rejects an unknown aggregation key and a non-positive bound', () => {
    expect(() => parseServerConfig({ aggregation: { maxUpdateNorm: 0 } })).toThrow(/aggregation.maxUpdateNorm/);
    expect(() => parseServerConfig({ aggregation: { maxExamples: 5 } })).toThrow(/aggregation/);
  });
});

describe('new-global guard (finding 2)', () => {
  const off = parseServerConfig({});

  it("bounds a plain DP-off round's aggregate update by the round's norm bound whatever the weights", () => {
    expect(maxAggregateNorm(off, D, { totalWeight: 30_000, survivors: 3, denominator: 30_000, secureScale: null, normBound: 10 })).toBeCloseTo(10, 12);
    expect(maxAggregateNorm(off, D, { totalWeight: 1_800, survivors: 3, denominator: 1_800, secureScale: null, normBound: 1.4 })).toBeCloseTo(1.4, 12);
  });

  it('central DP: (n·C + zC(√d + τ)) / denominator', () => {
    const central = parseServerConfig({ cohort: { expectedClients: 4 }, dp: { mode: 'central', noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 } });
    expect(maxAggregateNorm(central, D, { totalWeight: 3, survivors: 3, denominator: 4, secureScale: null, normBound: 1 })).toBeCloseTo(
      (3 + 2 * (Math.sqrt(D) + 10)) / 4,
      12,
    );
  });

  it('secure rounds: the range an honest client keeps (DP off: ±C per coordinate) plus rounding, and the noise shares', () => {
    const secureOff = parseServerConfig({ secureAggregation: { enabled: true } });
    const s = 1e6;
    const rounding = Math.sqrt(D) / (2 * s);
    expect(maxAggregateNorm(secureOff, D, { totalWeight: 3, survivors: 3, denominator: 3, secureScale: s })).toBeCloseTo(Math.sqrt(D) + rounding, 9);
    const distributed = parseServerConfig({
      cohort: { expectedClients: 4 },
      secureAggregation: { enabled: true },
      dp: { mode: 'distributed', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
    });
    const bound = maxAggregateNorm(distributed, D, { totalWeight: 4, survivors: 4, denominator: 5, secureScale: s });
    expect(bound).toBeCloseTo((4 * (1 + rounding) + 2 * (1 + rounding) * (Math.sqrt(D) + 10)) / 5, 9);
  });

  it('accepts a round whose only update sits exactly at the bound (float32 rounding allowed for)', () => {
    const bounded = boundUpdate({ values: new Float32Array(D).map((_, i) => 1e3 * Math.cos(i * 0.7)), numExamples: 7 }, updatePolicy(off, D, FIRST_ROUND));
    const accumulator = createAccumulator(D);
    accumulator.add(bounded.values, bounded.weight);
    const mean = meanUpdate(accumulator.sum, accumulator.totalWeight);
    const maxNorm = maxAggregateNorm(off, D, {
      totalWeight: accumulator.totalWeight,
      survivors: 1,
      denominator: accumulator.totalWeight,
      secureScale: null,
      normBound: 10,
    });
    expect(checkAggregate(mean, maxNorm)).toBeNull();
  });

  it('refuses a non-finite or too-long aggregate update, and a non-finite new global', () => {
    expect(checkAggregate(vector(0.2), 10)).toBeNull();
    const nan = vector(0.2);
    nan[7] = Number.NaN;
    expect(checkAggregate(nan, 10)).toMatch(/non-finite value \(NaN at index 7\)/);
    expect(checkAggregate(vector(1e30), 10)).toMatch(/norm .* more than the bound 10/);
    expect(checkAggregate(vector(11 / Math.sqrt(D)), 10)).toMatch(/more than the bound/);
    expect(checkNewGlobal(vector(0.2))).toBeNull();
    const inf = vector(0.2);
    inf[3] = Number.POSITIVE_INFINITY;
    expect(checkNewGlobal(inf)).toMatch(/non-finite weight \(Infinity at index 3\)/);
  });
});

describe('one answer per member per attempt (finding 5)', () => {
  it('refuses an update after a decline, a decline after an update, and a second of either', () => {
    const attempt = { round: 4, received: new Set(['a']), declined: new Set(['b']) };
    expect(secondAnswer(attempt, 'a')).toMatchObject({ reason: 'duplicate' });
    expect(secondAnswer(attempt, 'b')).toMatchObject({ reason: 'already-answered', message: stringMatching(/declined round 4/) });
    expect(secondAnswer(attempt, 'c')).toBeNull();
  });
});
