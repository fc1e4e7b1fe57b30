import { clipToNorm, noisePlan, type NoisePlan } from '../src/core/privacy/index.js';
import { NOISE_TAIL_SIGMAS } from '../src/core/secagg/index.js';
import type { ServerConfig } from './config.js';

/**
 * How far one plain (not masked) update may move the model: its FedAvg weight and its L2 norm, as
 * the round's noise plan says (core/privacy/noise-plan.ts: `weights`, `serverReclip`).
 *
 * - DP off: the self-reported example count is the weight, capped at the smaller of
 *   `aggregation.maxExamplesPerClient` and the median of the counts the cohort declared at hello, so
 *   one member never outweighs the typical member. An update longer than the round's norm bound is
 *   scaled down to it (clipped, not rejected): `aggregation.maxUpdateNorm`, or κ times the median
 *   norm of the updates accepted in the last completed round when that is smaller
 *   (κ = `aggregation.normBoundMultiplier`; see adaptiveNormBound).
 * - central: equal weights; re-clipped to C, so one member's sensitivity is C whatever it sent.
 * - local: equal weights; re-clipped to the longest update an honest member sends: C plus the norm
 *   of its own N(0, z²C²I_d) noise, ‖N(0, σ²I_d)‖ ≤ σ(√d + τ) except with probability e^(−τ²/2)
 *   (Gaussian concentration of a 1-Lipschitz function, Vershynin 2018, Thm 5.2.2), τ = NOISE_TAIL_SIGMAS.
 *   Clipping to C itself would shrink every honest noised update by about z√d.
 * - secure aggregation (and so distributed): updates travel masked; the server never sees one, and
 *   refuses a plain update in a secure round before any bound applies.
 * Non-finite values never get here: the frame decoder rejects them ('non-finite').
 */
export interface UpdatePolicy {
  /** FedAvg weight cap; null: every update weighs 1 (DP-FedAvg's fixed weights). */
  maxWeight: number | null;
  /** The L2 norm every accepted update is clipped to; null in secure rounds (the server never sees an update). */
  normBound: number | null;
}

type PolicyConfig = Pick<ServerConfig, 'dp' | 'aggregation' | 'secureAggregation'>;

/** What a DP-off round's bounds adapt to, fixed when its cohort is drawn. */
export interface CohortEvidence {
  /** The example counts the cohort's members declared at hello. */
  declaredExamples: readonly number[];
  /** The median norm (as sent) of the updates accepted in the last completed round; null before one completed. */
  lastMedianNorm: number | null;
}

/** The bounds of one round. DP modes ignore `evidence`: their bound is the sensitivity C the accountant relies on. */
export function updatePolicy(config: PolicyConfig, length: number, evidence: CohortEvidence): UpdatePolicy {
  const { aggregation } = config;
  const plan = noisePlan(config.dp, config.secureAggregation.enabled);
  const typical = lowerMedian(evidence.declaredExamples) ?? aggregation.maxExamplesPerClient;
  return {
    maxWeight: plan.weights === 'equal' ? null : Math.min(aggregation.maxExamplesPerClient, Math.max(1, typical)),
    normBound: normBound(plan, length, () => adaptiveNormBound(aggregation, evidence.lastMedianNorm)),
  };
}

/**
 * The plan's re-clip bound: the adaptive one (DP off), C, or the longest update an honest member
 * sends in local mode; null where the server sees no update.
 */
function normBound(plan: NoisePlan, length: number, adaptive: () => number): number | null {
  switch (plan.serverReclip) {
    case 'adaptive':
      return adaptive();
    case 'clip-norm':
      return plan.clipNorm;
    case 'clip-norm-plus-noise':
      return plan.clipNorm + plan.clientNoiseStd * (Math.sqrt(length) + NOISE_TAIL_SIGMAS);
    case 'none':
      return null;
  }
}

/**
 * DP off: min(maxUpdateNorm, κ × the last round's median accepted norm); maxUpdateNorm until a round
 * completed (or when that median is 0, which would freeze the model for good).
 * Norm-bounding defence against model replacement: Sun et al. 2019, "Can You Really Backdoor Federated Learning?".
 */
export function adaptiveNormBound(aggregation: ServerConfig['aggregation'], lastMedianNorm: number | null): number {
  const { maxUpdateNorm, normBoundMultiplier } = aggregation;
  if (lastMedianNorm === null || !(lastMedianNorm > 0)) return maxUpdateNorm;
  return Math.min(maxUpdateNorm, normBoundMultiplier * lastMedianNorm);
}

/**
 * The ⌈n/2⌉-th smallest value (null when empty): the lower median, so that with two members
 * the larger claim never sets the bound, and a minority cannot move it past an honest value.
 */
export function lowerMedian(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1];
}

export interface BoundedUpdate {
  values: Float32Array;
  weight: number;
  /** The update's norm as sent, the bound, and whether it was scaled down to it. */
  norm: number;
  normBound: number;
  clipped: boolean;
}

/** One update as it enters the accumulator: weight capped, norm clipped to the policy's bound. */
export function boundUpdate(update: { values: Float32Array; numExamples: number }, policy: UpdatePolicy): BoundedUpdate {
  if (policy.normBound === null) throw new Error('a secure round has no plain updates to bound');
  const { clipped, norm, scale } = clipToNorm(update.values, policy.normBound);
  const weight = policy.maxWeight === null ? 1 : Math.min(policy.maxWeight, Math.max(1, update.numExamples));
  return { values: clipped, weight, norm, normBound: policy.normBound, clipped: scale < 1 };
}
