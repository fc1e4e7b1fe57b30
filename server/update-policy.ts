import { clipToNorm } from '../src/core/privacy/index.js';
import { NOISE_TAIL_SIGMAS } from '../src/core/secagg/index.js';
import type { DpSettings } from '../src/core/protocol/messages.js';
import type { ServerConfig } from './config.js';

/**
 * How far one plain (not masked) update may move the model: its FedAvg weight and its L2 norm.
 *
 * - DP off: the self-reported example count is the weight, capped at `aggregation.maxExamplesPerClient`;
 *   an update longer than `aggregation.maxUpdateNorm` is scaled down to it (clipped, not rejected).
 * - central: equal weights; re-clipped to C, so one member's sensitivity is C whatever it sent.
 * - local: equal weights; re-clipped to the longest update an honest member sends: C plus the norm
 *   of its own N(0, z²C²I_d) noise, ‖N(0, σ²I_d)‖ ≤ σ(√d + τ) except with probability e^(−τ²/2)
 *   (Gaussian concentration of a 1-Lipschitz function, Vershynin 2018, Thm 5.2.2), τ = NOISE_TAIL_SIGMAS.
 *   Clipping to C itself would shrink every honest noised update by about z√d.
 * - distributed: updates travel masked (secure aggregation); the server never sees one.
 * Non-finite values never get here: the frame decoder rejects them ('non-finite').
 */
export interface UpdatePolicy {
  /** FedAvg weight cap; null: every update weighs 1 (DP-FedAvg's fixed weights). */
  maxWeight: number | null;
  /** The L2 norm every accepted update is clipped to. */
  normBound: number;
}

type PolicyConfig = Pick<ServerConfig, 'dp' | 'aggregation'>;

export function updatePolicy(config: PolicyConfig, length: number): UpdatePolicy {
  const { dp, aggregation } = config;
  if (dp.mode === 'off') return { maxWeight: aggregation.maxExamplesPerClient, normBound: aggregation.maxUpdateNorm };
  return { maxWeight: null, normBound: honestNormBound(dp, length) };
}

/** The longest update an honest member sends in a DP mode (see UpdatePolicy). */
export function honestNormBound(dp: DpSettings, length: number): number {
  const C = dp.clipNorm;
  return dp.mode === 'local' ? C + dp.noiseMultiplier * C * (Math.sqrt(length) + NOISE_TAIL_SIGMAS) : C;
}

export interface BoundedUpdate {
  values: Float32Array;
  weight: number;
  /** The update's norm as sent, and whether it was scaled down to the bound. */
  norm: number;
  clipped: boolean;
}

/** One update as it enters the accumulator: weight capped, norm clipped to the policy's bound. */
export function boundUpdate(update: { values: Float32Array; numExamples: number }, policy: UpdatePolicy): BoundedUpdate {
  const { clipped, norm, scale } = clipToNorm(update.values, policy.normBound);
  const weight = policy.maxWeight === null ? 1 : Math.min(policy.maxWeight, Math.max(1, update.numExamples));
  return { values: clipped, weight, norm, clipped: scale < 1 };
}
