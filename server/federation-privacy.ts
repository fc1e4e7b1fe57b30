import { DEFAULT_ACCOUNTANT, noisePlan, type Accountant, type RoundRecord } from '../src/core/privacy/index.js';
import type { ServerConfig } from './config.js';

/** The accountant of the federation-wide ε (dashboard, budget, round results): the tight PRV upper bound. */
export const FEDERATION_ACCOUNTANT: Accountant = DEFAULT_ACCOUNTANT;

/**
 * The record one drawn attempt adds to the federation's accountant, released or not, as the noise plan's
 * `charge` says: none with DP off; (z, q) amplified by sampling; (z, 1) in local mode, where the server knows
 * who was sampled and sees each noised update, so no amplification by sampling is claimed against it.
 */
export function roundRecord(config: ServerConfig): RoundRecord | null {
  const { dp, cohort } = config;
  const { charge } = noisePlan(dp, config.secureAggregation.enabled);
  if (charge === 'none') return null;
  return { noiseMultiplier: dp.noiseMultiplier, samplingRate: charge === 'unsampled' ? 1 : cohort.samplingRate };
}
