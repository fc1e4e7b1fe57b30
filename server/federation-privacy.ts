import { epsilonFor, type RoundRecord } from '../src/core/privacy/index.js';
import type { ServerConfig } from './config.js';

/**
 * The record one drawn attempt adds to the federation's accountant, released or not. In local mode the server
 * knows who was sampled, so no amplification by sampling is claimed (q = 1 against the server).
 */
export function roundRecord(config: ServerConfig): RoundRecord {
  const { dp, cohort } = config;
  return { noiseMultiplier: dp.noiseMultiplier, samplingRate: dp.mode === 'local' ? 1 : cohort.samplingRate };
}

/** Federation-wide ε at the configured δ for the attempts charged so far: the tight PRV upper bound. */
export function federationEpsilon(records: RoundRecord[], delta: number): number {
  if (records.length === 0) return 0;
  return epsilonFor(records, delta, 'prv').epsilon;
}
