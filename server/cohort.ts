import { randomBytes } from 'node:crypto';

/** A uniform draw in [0, 1). */
export type Uniform = () => number;

/** Unpredictable uniforms for production cohort selection (clients must not be able to guess q's draws). */
export const secureUniform: Uniform = () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48;

/**
 * Poisson sampling: each eligible client joins independently with probability q, which is the
 * sampling the subsampled-Gaussian RDP analysis assumes (Mironov, Talwar, Zhang 2019). q = 1 takes
 * everyone. Ids are sorted first so a seeded uniform gives the same cohort for the same clients.
 */
export function selectCohort(eligible: readonly string[], samplingRate: number, uniform: Uniform): string[] {
  const sorted = [...new Set(eligible)].sort();
  if (samplingRate >= 1) return sorted;
  return sorted.filter(() => uniform() < samplingRate);
}
