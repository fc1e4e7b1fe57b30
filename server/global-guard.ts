import { noisePlan } from '../src/core/privacy/index.js';
import { NOISE_TAIL_SIGMAS } from '../src/core/secagg/index.js';
import type { ServerConfig } from './config.js';

/**
 * The last check before a new global model is applied and checkpointed: it must be finite, and
 * ‖next − global‖ must not exceed what the round's accepted updates and noise can explain:
 *
 *   ‖next − global‖ = η‖sum + noise‖ / denominator ≤ η (W·B + σ(√d + τ)) / denominator
 *
 * η: server learning rate; B: the per-update norm bound; W: the sum of the aggregation weights
 * (DP off, plain: FedAvg weights, so W / denominator = 1 and the bound is ηB); σ: the std per
 * coordinate of the Gaussian noise in the sum, whose norm is at most σ(√d + τ) except with
 * probability e^(−τ²/2) (Gaussian concentration, Vershynin 2018, Thm 5.2.2); τ = NOISE_TAIL_SIGMAS.
 *
 * Which noise is in the sum, and what an honest client bounds its update to, is the round's noise plan
 * (core/privacy/noise-plan.ts). Plain rounds: B is the bound the server clipped every update to (server/update-policy.ts), so
 * only a bug can trip the guard. Secure rounds: the server never sees one update, so B is the bound
 * an honest client's own code keeps (DP off: each coordinate clamped to ±C, so C√d; DP: C, plus the
 * fixed-point rounding √d/(2s) at scale s), and a member that sends out-of-range masked input trips it.
 */
export type ReleasedRound = {
  /** Sum of the aggregation weights of the survivors (their count when weights are equal). */
  totalWeight: number;
  survivors: number;
  denominator: number;
} &
  /** A plain round: every update was clipped to the round's bound (UpdatePolicy.normBound). */
  (
    | { secureScale: null; normBound: number }
    /** A secure round and its fixed-point scale. */
    | { secureScale: number }
  );

type GuardConfig = Pick<ServerConfig, 'dp' | 'serverLearningRate'>;

export function maxGlobalChange(config: GuardConfig, length: number, round: ReleasedRound): number {
  const plan = noisePlan(config.dp, round.secureScale !== null);
  const { clipNorm: C, noiseMultiplier: z } = plan;
  let perUpdate: number;
  let noiseVariance = plan.serverNoise ? (z * C) ** 2 : 0;
  if (round.secureScale === null) {
    perUpdate = round.normBound;
  } else {
    const rounding = Math.sqrt(length) / (2 * round.secureScale);
    perUpdate = (plan.clientBound === 'clamp' ? C * Math.sqrt(length) : C) + rounding;
    // Local: each survivor's own N(0, z²C²). Distributed: each survivor's share has variance z²Δ²/t on
    // the grid, Δ = s·C + √d/2 (PRIVACY-MATH.md), i.e. (z(C + √d/(2s)))²/t dequantized; t ≥ 1 is left out (an upper bound).
    if (plan.clientNoise === 'full') noiseVariance += round.survivors * plan.clientNoiseStd ** 2;
    if (plan.clientNoise === 'share') noiseVariance += round.survivors * (z * (C + rounding)) ** 2;
  }
  const noiseNorm = Math.sqrt(noiseVariance) * (Math.sqrt(length) + NOISE_TAIL_SIGMAS);
  return (config.serverLearningRate * (round.totalWeight * perUpdate + noiseNorm)) / round.denominator;
}

/**
 * Null when `next` may replace `global`; otherwise why not (the attempt aborts with it). The float32
 * rounding of the mean and of `next` (at most 2⁻²⁴ relative per coordinate each) is allowed for, so
 * that a round whose updates all sit exactly at the bound is not refused.
 */
export function checkNewGlobal(global: Float32Array, next: Float32Array, maxChange: number): string | null {
  let squared = 0;
  let nextSquared = 0;
  for (let i = 0; i < next.length; i++) {
    if (!Number.isFinite(next[i])) return `the new global model has a non-finite weight (${next[i]} at index ${i}): not applied`;
    const d = next[i] - global[i];
    squared += d * d;
    nextSquared += next[i] * next[i];
  }
  const change = Math.sqrt(squared);
  const rounding = 2 ** -24 * (Math.sqrt(nextSquared) + maxChange);
  if (!(change <= maxChange + rounding)) {
    return `the new global model moved by ${change.toPrecision(4)}, more than the bound ${maxChange.toPrecision(4)}: not applied`;
  }
  return null;
}
