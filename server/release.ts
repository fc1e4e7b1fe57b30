import { meanUpdate, type OptimizerState, type RoundAggregate, type Strategy } from '../src/core/aggregate/index.js';
import { addGridGaussianNoise, noisePlan } from '../src/core/privacy/index.js';
import type { Collection } from './collect.js';
import type { ServerConfig } from './config.js';
import { checkAggregate, checkNewGlobal, maxAggregateNorm, type ReleasedRound } from './global-guard.js';
import { averagingDenominator } from './sampling.js';

/** A released round: the new global weights and the server optimizer's state after it. */
export interface Released {
  next: Float32Array;
  state: OptimizerState;
}

/**
 * The new global weights from an attempt's collection: the round's aggregate update (for a linear
 * strategy: the server's noise as the round's noise plan says (core/privacy/noise-plan.ts), then the
 * fixed denominator; for a robust rule: its output), the guard on that update, then the strategy's
 * server step; `normBound` is the plain attempt's per-update bound (null in a secure one). DP and
 * secure aggregation wrap the strategy here, never inside it.
 */
export async function release(
  config: ServerConfig,
  strategy: Strategy,
  global: Float32Array,
  collected: Collection,
  normBound: number | null,
  state: OptimizerState,
): Promise<Released | { refused: string }> {
  const { aggregate, survivors, secureScale } = collected;
  const update = await aggregateUpdate(config, aggregate, secureScale !== null);
  let maxNorm: number;
  if (aggregate.kind === 'robust') {
    if (normBound === null) throw new Error('a robust rule runs only in plain rounds');
    maxNorm = aggregate.normFactor * normBound;
  } else {
    const released = { totalWeight: aggregate.totalWeight, survivors: survivors.length, denominator: averagingDenominator(config, aggregate.totalWeight) };
    let round: ReleasedRound;
    if (secureScale !== null) round = { ...released, secureScale };
    else if (normBound !== null) round = { ...released, secureScale, normBound };
    else throw new Error('a plain attempt needs its per-update norm bound');
    maxNorm = maxAggregateNorm(config, global.length, round);
  }
  const refused = checkAggregate(update, maxNorm);
  if (refused) return { refused };
  const stepped = strategy.finish(global, update, state);
  const nonFinite = checkNewGlobal(stepped.next);
  return nonFinite ? { refused: nonFinite } : stepped;
}

/** The round's aggregate update Δ, before the server step. */
async function aggregateUpdate(config: ServerConfig, aggregate: RoundAggregate, secure: boolean): Promise<Float32Array> {
  if (aggregate.kind === 'robust') return aggregate.update;
  const plan = noisePlan(config.dp, secure);
  // Central noise of std z·C (z·(C + √d·γ) on its grid, against Mironov 2012) on the sum, then the fixed denominator (McMahan et al. 2018).
  const sum = plan.serverNoise ? await addGridGaussianNoise(aggregate.sum, plan.noiseMultiplier, plan.clipNorm) : aggregate.sum;
  return meanUpdate(sum, averagingDenominator(config, aggregate.totalWeight));
}
