import { describe, expect, it } from 'vitest';
import { accountantInputProblems, epsilonFor, MIN_NOISE_MULTIPLIER, validateAccountantInputs } from '../../src/core/privacy/index.js';

describe('validateAccountantInputs: one rule for every entry point (issue 11, finding 6)', () => {
  it('refuses the z at which the PRV accountant throws, and accepts the smallest z it allows, which both accountants bound', () => {
    // The failure the rule exists for: PRV cannot discretise the privacy loss of so little noise.
    expect(() => epsilonFor([{ noiseMultiplier: 3e-4, samplingRate: 0.1, rounds: 10 }], 1e-5, 'prv')).toThrow(/FFT size/);
    expect(() => validateAccountantInputs({ noiseMultiplier: 3e-4, samplingRate: 0.1, delta: 1e-5 })).toThrow(
      /noiseMultiplier must be a finite number ≥ 0\.01/,
    );
    validateAccountantInputs({ noiseMultiplier: MIN_NOISE_MULTIPLIER, samplingRate: 0.1, delta: 1e-5 });
    for (const accountant of ['prv', 'rdp'] as const) {
      for (const samplingRate of [1, 0.1]) {
        const { epsilon } = epsilonFor([{ noiseMultiplier: MIN_NOISE_MULTIPLIER, samplingRate, rounds: 10 }], 1e-5, accountant);
        expect(Number.isFinite(epsilon) && epsilon > 0, `${accountant} q=${samplingRate}`).toBe(true);
      }
    }
  });

  it('names every bad field: z not finite or too small, q outside (0, 1], δ outside (0, 1)', () => {
    const fields = (inputs: Parameters<typeof accountantInputProblems>[0]) => accountantInputProblems(inputs).map((p) => p.field);
    expect(fields({ noiseMultiplier: 1, samplingRate: 0.5, delta: 1e-5 })).toEqual([]);
    expect(fields({ noiseMultiplier: Number.NaN, samplingRate: 0, delta: 1 })).toEqual(['noiseMultiplier', 'samplingRate', 'delta']);
    expect(fields({ noiseMultiplier: Infinity, samplingRate: 1.01, delta: 0 })).toEqual(['noiseMultiplier', 'samplingRate', 'delta']);
    expect(fields({ noiseMultiplier: 0.0099 })).toEqual(['noiseMultiplier']);
    expect(fields({ noiseMultiplier: 1000 })).toEqual([]);
    expect(fields({ noiseMultiplier: 1001 })).toEqual(['noiseMultiplier']);
    expect(fields({ samplingRate: 1, delta: 0.5 })).toEqual([]);
  });
});
