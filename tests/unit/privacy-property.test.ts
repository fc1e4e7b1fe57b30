import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epsilonFor, gaussianEpsilon, prvEpsilon, type AccountantName, type EpsilonResult } from '../../src/core/privacy/index.js';

/** Parameters drawn from the ranges the accountants are meant for; T kept moderate so the suite stays fast. */
const rate = fc.double({ min: 0.001, max: 1, noNaN: true });
const noise = fc.double({ min: 0.5, max: 10, noNaN: true });
const rounds = fc.integer({ min: 1, max: 500 });
const delta = fc.double({ min: -8, max: -3, noNaN: true }).map((e) => 10 ** e);

const RUNS = 6;

/** PRV with its FFT capped at 2^18 points (for speed): a larger stated error where the cap binds, same guarantees. */
const eps = (z: number, q: number, t: number, d: number, accountant: AccountantName): EpsilonResult => {
  const records = [{ noiseMultiplier: z, samplingRate: q, rounds: t }];
  return accountant === 'rdp' ? epsilonFor(records, d, 'rdp') : prvEpsilon(records, d, { maxGridSize: 2 ** 18 });
};

/**
 * `more` costs at least as much privacy as `less`. RDP is exactly monotone (up to rounding); PRV is an upper bound
 * within its stated error of the exact (monotone) ε, so PRV(less) ≤ exact(less) + error ≤ exact(more) + error ≤ PRV(more) + error.
 */
function expectOrdered(less: EpsilonResult, more: EpsilonResult): void {
  expect(less.epsilon).toBeLessThanOrEqual(more.epsilon + (less.epsilonError ?? 0) + 1e-9);
}

describe.each(['rdp', 'prv'] as const)('%s accountant: ε is monotone', (accountant) => {
  it('in the number of rounds', () => {
    fc.assert(
      fc.property(noise, rate, rounds, rounds, delta, (z, q, t1, t2, d) => {
        expectOrdered(eps(z, q, Math.min(t1, t2), d, accountant), eps(z, q, Math.max(t1, t2), d, accountant));
      }),
      { numRuns: RUNS },
    );
  });

  it('in the sampling rate', () => {
    fc.assert(
      fc.property(noise, rate, rate, rounds, delta, (z, q1, q2, t, d) => {
        expectOrdered(eps(z, Math.min(q1, q2), t, d, accountant), eps(z, Math.max(q1, q2), t, d, accountant));
      }),
      { numRuns: RUNS },
    );
  });

  it('in 1/z', () => {
    fc.assert(
      fc.property(noise, noise, rate, rounds, delta, (z1, z2, q, t, d) => {
        expectOrdered(eps(Math.max(z1, z2), q, t, d, accountant), eps(Math.min(z1, z2), q, t, d, accountant));
      }),
      { numRuns: RUNS },
    );
  });

  it('in 1/δ', () => {
    fc.assert(
      fc.property(noise, rate, rounds, delta, delta, (z, q, t, d1, d2) => {
        expectOrdered(eps(z, q, t, Math.max(d1, d2), accountant), eps(z, q, t, Math.min(d1, d2), accountant));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('PRV against the other bounds', () => {
  it('never exceeds RDP by more than its stated error', () => {
    fc.assert(
      fc.property(noise, rate, rounds, delta, (z, q, t, d) => {
        const prv = eps(z, q, t, d, 'prv');
        expect(prv.epsilon).toBeLessThanOrEqual(eps(z, q, t, d, 'rdp').epsilon + prv.epsilonError!);
      }),
      { numRuns: 2 * RUNS },
    );
  });

  it('is never below the analytic Gaussian value at q = 1, and within 0.015 of it', () => {
    fc.assert(
      fc.property(noise, rounds, delta, (z, t, d) => {
        const exact = gaussianEpsilon(d, Math.sqrt(t) / z);
        const prv = eps(z, 1, t, d, 'prv');
        expect(prv.epsilon).toBeGreaterThanOrEqual(exact);
        expect(prv.epsilon).toBeLessThanOrEqual(exact + 0.015);
        expect(prv.epsilon - prv.epsilonError!).toBeLessThanOrEqual(exact);
      }),
      { numRuns: 2 * RUNS },
    );
  });
});
