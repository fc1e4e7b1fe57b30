import { clipToNorm } from './clip.js';
import { addGaussianNoise } from './noise.js';
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
 * distributed share goes on the quantized grid afterwards (client/secure-round.ts).
 */
export async function privatizeUpdate(delta: Float32Array, plan: NoisePlan): Promise<PrivatizedUpdate> {
  const C = plan.clipNorm;
  if (plan.clientBound === 'none') return { values: delta, updateNorm: 0, clipScale: 1 };
  if (plan.clientBound === 'clamp') return { values: delta.map((v) => Math.min(C, Math.max(-C, v))), updateNorm: 0, clipScale: 1 };
  const { clipped, norm, scale } = clipToNorm(delta, C);
  const values = plan.clientNoiseStd > 0 ? await addGaussianNoise(clipped, plan.clientNoiseStd) : clipped;
  return { values, updateNorm: norm, clipScale: scale };
}
