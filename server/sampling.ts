import { noisePlan, type RoundRecord } from '../src/core/privacy/index.js';
import { selectCohort, type Uniform } from './cohort.js';
import type { ServerConfig } from './config.js';
import { roundRecord } from './federation-privacy.js';

/** One drawn attempt at a round: who is in it, and what it adds to the accountant (null with DP off). */
export interface Draw {
  cohort: string[];
  charge: RoundRecord | null;
}

/**
 * A round's cohort: ONE Poisson draw at q over the members connected at draw time, never redrawn or retried
 * because of its size, and in every DP mode charged to the accountant whether or not anything is released. The
 * accountant composes one Poisson-subsampled Gaussian per draw (Mironov, Talwar, Zhang 2019), which holds because
 * every draw is counted: a run of draws that keeps only the large ones would include a member far more often than q.
 */
export function drawAttempt(config: ServerConfig, connected: readonly string[], uniform: Uniform): Draw {
  return {
    cohort: selectCohort(connected, config.cohort.samplingRate, uniform),
    charge: roundRecord(config),
  };
}

/**
 * Why a plain (not secure) attempt with `count` cohort members or updates releases nothing, or null when it releases.
 *
 * DP on (central, local): never a reason. The release is the DP-FedAvg estimate Σ_{i∈S} clip(Δ_i) / n̄ + N(0, z²C²/n̄²)
 * with S the Poisson draw and n̄ = cohort.expectedClients fixed in advance (McMahan et al. 2018, the fixed-denominator
 * estimator), which is exactly the subsampled Gaussian mechanism the accountant charges, whatever |S| is (pure noise
 * when S is empty or nobody answered). Aborting when |S| < m would publish 1{|S| < m}, a noiseless function of
 * whether the neighbouring member was sampled that the analysis does not bound.
 * DP off: no privacy claim; fewer than cohort.minClients updates are not averaged, to protect the model's quality.
 */
export function plainShortfall(config: ServerConfig, count: number): string | null {
  const { minClients } = config.cohort;
  if (config.dp.mode !== 'off' || count >= minClients) return null;
  return `${count} of the minimum ${minClients} (DP off)`;
}

/**
 * The averaging denominator the noise plan names: with DP on the configured expected cohort size n̄, fixed before the
 * round, so the released model's scale and noise never depend on how many clients were connected or answered (DP-FedAvg,
 * McMahan et al. 2018); with DP off the total weight of the updates received (FedAvg; with secure aggregation every
 * survivor weighs 1).
 */
export function averagingDenominator(config: ServerConfig, totalWeight: number): number {
  if (noisePlan(config.dp, config.secureAggregation.enabled).denominator === 'total-weight') return totalWeight;
  const expected = config.cohort.expectedClients;
  if (expected === undefined) throw new Error('cohort.expectedClients is required when DP is on');
  return expected;
}
