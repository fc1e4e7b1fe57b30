import { clipInPlace } from './clip.js';
import { addGaussianNoiseInPlace } from './noise.js';
import type { NoisePlan } from './noise-plan.js';

export interface PrivatizedUpdate {
  values: Float32Array;
  /** The update's L2 norm before clipping (0 when the plan does not clip: nothing is measured). */
  updateNorm: number;
  /** The factor clipping scaled it by (1 when it was within C). */
  clipScale: number;
}

/**
 * The client's step on its update, the same for plain and secure rounds, as the round's noise plan
 * says (noise-plan.ts): clip to L2 norm C (DP-FedAvg, McMahan et al. 2018) or clamp each coordinate
 * to ±C (the fixed-point range of secure aggregation without DP); then, where the client adds the
 * full noise itself (local), N(0, z²C²) per coordinate (PRIVACY-MATH.md, noise placement). A
 * distributed share goes on the quantized grid afterwards (client/secure-round.ts). Works in place:
 * `delta` becomes the values returned.
 */
export async function privatizeUpdate(delta: Float32Array, plan: NoisePlan): Promise<PrivatizedUpdate> {
  const C = plan.clipNorm;
  if (plan.clientBound === 'none') return { values: delta, updateNorm: 0, clipScale: 1 };
  if (plan.clientBound === 'clamp') {
    for (let i = 0; i < delta.length; i++) delta[i] = Math.min(C, Math.max(-C, delta[i]));
    return { values: delta, updateNorm: 0, clipScale: 1 };
  }
  const { norm, scale } = clipInPlace(delta, C);
  if (plan.clientNoiseStd > 0) await addGaussianNoiseInPlace(delta, plan.clientNoiseStd);
  return { values: delta, updateNorm: norm, clipScale: scale };
}
