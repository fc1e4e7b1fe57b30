import { discreteGaussianSamples } from './discrete-gaussian.js';

/**
 * Central Gaussian noise drawn on a discrete grid, against the floating-point attack on continuous noise (Mironov
 * 2012, "On significance of the least significant bits for differential privacy"): x + a double-precision Gaussian
 * can only land on outputs whose pattern of representable values depends on x, so one release can reveal x exactly.
 * Here the sum is rounded to the grid γZ (γ a power of two, so the scaling is exact), an integer discrete Gaussian
 * N_Z(0, (zΔ/γ)²) (Canonne, Kamath, Steinke 2020) is added in exact integer arithmetic, and the result is scaled back
 * exactly: every reachable output is a grid point, whatever x was. Dividing it by the denominator afterwards is
 * post-processing.
 *
 * Sensitivity: neighbouring sums differ by at most C in L2; rounding both to the grid moves their difference by at
 * most γ per coordinate, so Δ = C + √d·γ, and the noise std is z·Δ (≥ z·C: the accounted z still holds).
 */

/** γ starts at about C·2^-20 (√d·γ is 0.12% of C for a 1.66M-weight model)... */
const STEPS_PER_CLIP_LOG2 = 20;
/** ...and doubles while the noise would exceed 2^27 grid steps (the sampler takes σ ≤ 2^28; z ≤ 64 never needs it). */
const MAX_SIGMA_STEPS = 2 ** 27;

export interface GridNoise {
  /** Grid step γ (a power of two). */
  step: number;
  /** L2 sensitivity of the rounded sum, C + √d·γ. */
  sensitivity: number;
  /** Noise std in grid steps, z·Δ/γ. */
  sigmaSteps: number;
}

/** The grid and the discrete noise for a sum of `length` clipped updates (clip norm C, noise multiplier z). */
export function gridNoiseFor(length: number, noiseMultiplier: number, clipNorm: number): GridNoise {
  if (!(Number.isFinite(noiseMultiplier) && noiseMultiplier > 0)) throw new RangeError(`noiseMultiplier must be finite and > 0, got ${noiseMultiplier}`);
  if (!(Number.isFinite(clipNorm) && clipNorm > 0)) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  // σ in steps is z·(C/γ + √d): it falls towards z·√d as γ grows, so it fits only if z·√d does.
  if (noiseMultiplier * Math.sqrt(length) > MAX_SIGMA_STEPS / 2) {
    throw new RangeError(`noise multiplier ${noiseMultiplier} is too large for grid noise on ${length} weights`);
  }
  let step = 2 ** (Math.floor(Math.log2(clipNorm)) - STEPS_PER_CLIP_LOG2);
  while ((noiseMultiplier * (clipNorm + Math.sqrt(length) * step)) / step > MAX_SIGMA_STEPS) step *= 2;
  const sensitivity = clipNorm + Math.sqrt(length) * step;
  return { step, sensitivity, sigmaSteps: (noiseMultiplier * sensitivity) / step };
}

/** A new Float64Array: `sum` rounded to the grid plus discrete Gaussian noise of std z·(C + √d·γ), on the grid. */
export async function addGridGaussianNoise(sum: Float64Array | Float32Array, noiseMultiplier: number, clipNorm: number): Promise<Float64Array> {
  const { step, sigmaSteps } = gridNoiseFor(sum.length, noiseMultiplier, clipNorm);
  const noise = await discreteGaussianSamples(sum.length, sigmaSteps);
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) {
    const k = Math.round(sum[i] / step);
    if (!Number.isSafeInteger(k)) throw new RangeError(`sum coordinate ${i} (${sum[i]}) is too large for the noise grid`);
    // k + noise[i] is an exact integer in doubles, and × step (a power of two) is exact too.
    out[i] = (k + noise[i]) * step;
  }
  noise.fill(0);
  return out;
}
