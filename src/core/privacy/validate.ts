/**
 * The inputs every accountant (RDP and PRV) handles, checked where they enter (server config, CLI flags), so a bad
 * value is a clear error at load and never a throw mid-federation.
 *
 * Measured (PRV, δ = 1e-5, 1 to 1000 rounds, q from 1e-4 to 1): z ≤ 5e-4 throws "FFT size must be a power of two",
 * z of 6e-4 to 9e-4 takes 30 s to minutes per ε, z = 1e-3 takes ~6 s and z = 0.01 ~2 s. One round at z = 0.01
 * already costs ε ≈ 5,400, so nothing meaningful is lost by refusing anything smaller.
 */
export const MIN_NOISE_MULTIPLIER = 0.01;
/**
 * Far above any useful z (one round at q = 1 costs ε ≈ 0.005 at z = 1000), and low enough that central noise can be
 * drawn on its grid for any model (grid-noise.ts needs z·√d ≤ 2^26).
 */
export const MAX_NOISE_MULTIPLIER = 1000;

export interface AccountantInputs {
  noiseMultiplier: number;
  samplingRate: number;
  delta: number;
}

export interface AccountantInputProblem {
  field: keyof AccountantInputs;
  message: string;
}

/** Every problem with one round's (z, q, δ) for the accountants; empty when they can be accounted. */
export function accountantInputProblems(inputs: Partial<AccountantInputs>): AccountantInputProblem[] {
  const problems: AccountantInputProblem[] = [];
  const { noiseMultiplier: z, samplingRate: q, delta } = inputs;
  if (z !== undefined && !(Number.isFinite(z) && z >= MIN_NOISE_MULTIPLIER)) {
    problems.push({
      field: 'noiseMultiplier',
      message: `must be a finite number ≥ ${MIN_NOISE_MULTIPLIER} (the accountants cannot bound smaller ones; got ${z})`,
    });
  } else if (z !== undefined && z > MAX_NOISE_MULTIPLIER) {
    problems.push({ field: 'noiseMultiplier', message: `must be at most ${MAX_NOISE_MULTIPLIER} (got ${z})` });
  }
  if (q !== undefined && !(Number.isFinite(q) && q > 0 && q <= 1)) {
    problems.push({ field: 'samplingRate', message: `must be in (0, 1] (got ${q})` });
  }
  if (delta !== undefined && !(Number.isFinite(delta) && delta > 0 && delta < 1)) {
    problems.push({ field: 'delta', message: `must be in (0, 1) (got ${delta})` });
  }
  return problems;
}

/** Throws a RangeError naming each bad input; returns silently when the accountants can handle them. */
export function validateAccountantInputs(inputs: Partial<AccountantInputs>): void {
  const problems = accountantInputProblems(inputs);
  if (problems.length > 0) throw new RangeError(problems.map((p) => `${p.field} ${p.message}`).join('; '));
}
