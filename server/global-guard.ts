import { noisePlan } from '../src/core/privacy/index.js';
import { NOISE_TAIL_SIGMAS } from '../src/core/secagg/index.js';
import type { ServerConfig } from './config.js';

/**
 * The last checks before a new global model is applied and checkpointed. The round's aggregate
 * update Δ (what the members' inputs decide, before the server optimizer) must be finite and no
 * longer than the round's accepted updates and noise can explain:
 *
 *   ‖Δ‖ = ‖sum + noise‖ / denominator ≤ (W·B + σ(√d + τ)) / denominator
 *
 * B: the per-update norm bound; W: the sum of the aggregation weights
 * (DP off, plain: FedAvg weights, so W / denominator = 1 and the bound is B); σ: the std per
 * coordinate of the Gaussian noise in the sum, whose norm is at most σ(√d + τ) except with
 * probability e^(−τ²/2) (Gaussian concentration, Vershynin 2018, Thm 5.2.2); τ = NOISE_TAIL_SIGMAS.
 *
 * Which noise is in the sum, and what an honest client bounds its update to, is the round's noise plan
 * (core/privacy/noise-plan.ts). Plain rounds: B is the bound the server clipped every update to (server/update-policy.ts), so
 * only a bug can trip the guard. Secure rounds: the server never sees one update, so B is the bound
 * an honest client's own code keeps (DP off: each coordinate clamped to ±C, so C√d; DP: C, plus the
 * fixed-point rounding √d/(2s) at scale s), and a member that sends out-of-range masked input trips it.
 * A robust rule's output is bounded by its normFactor times B (RoundAggregate in core/aggregate/strategy.ts).
 * The server optimizer then maps Δ to the new global (a deterministic function of Δ and its state);
 * the new global must be finite.
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

type GuardConfig = Pick<ServerConfig, 'dp'>;

export function maxAggregateNorm(config: GuardConfig, length: number, round: ReleasedRound): number {
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
  return (round.totalWeight * perUpdate + noiseNorm) / round.denominator;
}

/**
 * Null when the aggregate update may be applied; otherwise why not (the attempt aborts with it).
 * The float32 rounding of the mean (at most 2⁻²⁴ relative per coordinate) is allowed for, so that a
 * round whose updates all sit exactly at the bound is not refused.
 */
export function checkAggregate(update: Float32Array, maxNorm: number): string | null {
  let squared = 0;
  for (let i = 0; i < update.length; i++) {
    if (!Number.isFinite(update[i])) return `the round's aggregate update has a non-finite value (${update[i]} at index ${i}): not applied`;
    squared += update[i] * update[i];
  }
  const norm = Math.sqrt(squared);
  if (!(norm <= maxNorm * (1 + 2 ** -23))) {
    return `the round's aggregate update has norm ${norm.toPrecision(4)}, more than the bound ${maxNorm.toPrecision(4)}: not applied`;
  }
  return null;
}

/** Null when the server optimizer's new global is finite; otherwise why it is not applied. */
export function checkNewGlobal(next: Float32Array): string | null {
  for (let i = 0; i < next.length; i++) {
    if (!Number.isFinite(next[i])) return `the new global model has a non-finite weight (${next[i]} at index ${i}): not applied`;
  }
  return null;
}
