import { applyUpdate, meanUpdate } from '../src/core/aggregate/index.js';
import { addGridGaussianNoise } from '../src/core/privacy/index.js';
import type { Collection } from './collect.js';
import type { ServerConfig } from './config.js';
import { checkNewGlobal, maxGlobalChange } from './global-guard.js';
import { averagingDenominator } from './sampling.js';

/**
 * The new global weights from an attempt's collection: central noise, the fixed denominator, the
 * server step, then the new-global guard; `normBound` is the plain attempt's per-update bound.
 */
export async function release(
  config: ServerConfig,
  global: Float32Array,
  collected: Collection,
  normBound: number,
): Promise<{ next: Float32Array } | { refused: string }> {
  const { dp } = config;
  // Central noise of std z·C (z·(C + √d·γ) on its grid, against Mironov 2012) on the sum, then the fixed denominator (McMahan et al. 2018).
  const sum = dp.mode === 'central' ? await addGridGaussianNoise(collected.sum, dp.noiseMultiplier, dp.clipNorm) : collected.sum;
  const denominator = averagingDenominator(config, collected.totalWeight);
  const mean = meanUpdate(sum, denominator);
  const next = applyUpdate(global, mean, config.serverLearningRate);
  const { totalWeight, survivors, secureScale } = collected;
  const released = { totalWeight, survivors: survivors.length, denominator };
  const maxChange = maxGlobalChange(config, next.length, secureScale === null ? { ...released, secureScale, normBound } : { ...released, secureScale });
  const refused = checkNewGlobal(global, next, maxChange);
  return refused ? { refused } : { next };
}
