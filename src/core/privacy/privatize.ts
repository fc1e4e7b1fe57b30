import type { DpSettings } from '../protocol/messages.js';
import { clipInPlace } from './clip.js';
import { addGaussianNoiseInPlace } from './noise.js';

export interface PrivatizedUpdate {
  values: Float32Array;
  /** The update's L2 norm before clipping (0 with DP off: nothing is measured). */
  updateNorm: number;
  /** The factor clipping scaled it by (1 when it was within C). */
  clipScale: number;
}

/**
 * The client's DP step on its update, the same for plain and secure rounds: with DP on, clip to
 * L2 norm C (DP-FedAvg, McMahan et al. 2018); in local mode also add the full N(0, z²C²) itself
 * (PRIVACY-MATH.md, noise placement). Central noise is the server's, distributed noise goes on the
 * quantized grid (secure rounds). DP off: the update as it is. Works in place: `delta` becomes the values returned.
 */
export async function privatizeUpdate(delta: Float32Array, dp: DpSettings): Promise<PrivatizedUpdate> {
  if (dp.mode === 'off') return { values: delta, updateNorm: 0, clipScale: 1 };
  const { norm, scale } = clipInPlace(delta, dp.clipNorm);
  if (dp.mode === 'local') await addGaussianNoiseInPlace(delta, dp.noiseMultiplier * dp.clipNorm);
  return { values: delta, updateNorm: norm, clipScale: scale };
}
