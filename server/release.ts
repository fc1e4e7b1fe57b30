import { applyUpdate, meanUpdate } from '../src/core/aggregate/index.js';
import { addGridGaussianNoise, noisePlan } from '../src/core/privacy/index.js';
import type { Collection } from './collect.js';
import type { ServerConfig } from './config.js';
import { checkNewGlobal, maxGlobalChange, type ReleasedRound } from './global-guard.js';
import { averagingDenominator } from './sampling.js';

/**
 * The new global weights from an attempt's collection, as the round's noise plan says
 * (core/privacy/noise-plan.ts): the server's noise, the denominator, the server step, then the
 * new-global guard; `normBound` is the plain attempt's per-update bound (null in a secure one).
 */
export async function release(
  config: ServerConfig,
  global: Float32Array,
  collected: Collection,
  normBound: number | null,
): Promise<{ next: Float32Array } | { refused: string }> {
  const plan = noisePlan(config.dp, collected.secureScale !== null);
  // Central noise of std z·C (z·(C + √d·γ) on its grid, against Mironov 2012) on the sum, then the fixed denominator (McMahan et al. 2018).
  const sum = plan.serverNoise ? await addGridGaussianNoise(collected.sum, plan.noiseMultiplier, plan.clipNorm) : collected.sum;
  const denominator = averagingDenominator(config, collected.totalWeight);
  const mean = meanUpdate(sum, denominator);
  const next = applyUpdate(global, mean, config.serverLearningRate);
  const { totalWeight, survivors, secureScale } = collected;
  const released = { totalWeight, survivors: survivors.length, denominator };
  let round: ReleasedRound;
  if (secureScale !== null) round = { ...released, secureScale };
  else if (normBound !== null) round = { ...released, secureScale, normBound };
  else throw new Error('a plain attempt needs its per-update norm bound');
  const maxChange = maxGlobalChange(config, next.length, round);
  const refused = checkNewGlobal(global, next, maxChange);
  return refused ? { refused } : { next };
}
