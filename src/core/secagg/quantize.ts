/**
 * Fixed-point quantization of clipped, noised updates into Z_{2^32}, where secure aggregation
 * adds them (Uint32Array arithmetic wraps mod 2^32). A value v becomes round(v·s) in two's
 * complement; a sum of such values reads back as the centred int32 representative divided by s,
 * which is exact as long as the true integer sum stays inside [-(2^31 - 1), 2^31 - 1].
 */

import type { NoiseMode } from '../privacy/noise.js';

/** Largest magnitude of a centred int32 representative that still reads back unambiguously. */
const INT32_MAX = 2 ** 31 - 1;
/** Standard deviations of the clients' total noise that the range must hold (tail 2·Φ(-10) ≈ 1.5e-23). */
export const NOISE_TAIL_SIGMAS = 10;

function positive(value: number, name: string): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive finite number, got ${value}`);
}

function nonNegative(value: number, name: string): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative finite number, got ${value}`);
}

function positiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

/**
 * L2 sensitivity of one client's quantized update, in integer units: s·C for the clipped vector
 * (‖v‖₂ ≤ C) plus √d/2, since round-to-nearest moves each of the d coordinates by at most 1/2.
 */
export function integerSensitivity(scale: number, clipNorm: number, length: number): number {
  positive(scale, 'scale');
  positive(clipNorm, 'clipNorm');
  positiveInteger(length, 'length');
  return scale * clipNorm + Math.sqrt(length) / 2;
}

/**
 * Distributed DP: each client adds discrete-Gaussian noise of this std (integer units) so that any
 * t survivors' sum carries std z·Δ, Δ = integerSensitivity(s, C, d): σ_client = z·Δ/√t.
 */
export function distributedNoiseSigma(o: { scale: number; clipNorm: number; noiseMultiplier: number; threshold: number; length: number }): number {
  nonNegative(o.noiseMultiplier, 'noiseMultiplier');
  positiveInteger(o.threshold, 'threshold');
  return (o.noiseMultiplier * integerSensitivity(o.scale, o.clipNorm, o.length)) / Math.sqrt(o.threshold);
}

/** Upper bound on |Σ of the cohort's quantized, noised values| on one coordinate, at scale s (see quantizationScale). */
export function worstCaseSum(
  scale: number,
  o: { clipNorm: number; noiseMultiplier: number; mode: NoiseMode; cohortSize: number; threshold: number; length: number },
): number {
  const n = o.cohortSize;
  const signal = n * (scale * o.clipNorm + 0.5);
  let sigmaSum = 0;
  if (o.mode === 'distributed') {
    sigmaSum =
      Math.sqrt(n) * distributedNoiseSigma({ scale, clipNorm: o.clipNorm, noiseMultiplier: o.noiseMultiplier, threshold: o.threshold, length: o.length });
  } else if (o.mode === 'local') {
    sigmaSum = Math.sqrt(n) * scale * o.noiseMultiplier * o.clipNorm;
  }
  return signal + NOISE_TAIL_SIGMAS * sigmaSum;
}

/**
 * The fixed-point scale s (an integer unit is 1/s): the largest s such that the cohort's sum
 * cannot wrap mod 2^32 except with negligible probability,
 *
 *   n·(s·C + 1/2) + τ·σ_sum ≤ 2^31 − 1,   τ = 10 standard deviations,
 *
 * where n is the cohort size, C the clip norm (a coordinate of a vector of L2 norm ≤ C is at most C
 * in absolute value, and rounding adds at most 1/2), and σ_sum the std, in integer units, of the
 * total noise the clients add: distributed: √n·σ_client with σ_client = z·(s·C + √d/2)/√t (so the
 * inequality stays linear in s and is solved exactly); local: √n·s·z·C; off and central: 0 (the
 * server adds central noise after unmasking, in floating point). Throws a RangeError when no
 * positive scale satisfies it (e.g. distributed noise over a huge d with a tiny threshold).
 */
export function quantizationScale(o: {
  clipNorm: number;
  noiseMultiplier: number;
  mode: NoiseMode;
  cohortSize: number;
  threshold: number;
  length: number;
}): number {
  positive(o.clipNorm, 'clipNorm');
  nonNegative(o.noiseMultiplier, 'noiseMultiplier');
  positiveInteger(o.cohortSize, 'cohortSize');
  positiveInteger(o.threshold, 'threshold');
  positiveInteger(o.length, 'length');
  const n = o.cohortSize;
  const C = o.clipNorm;
  const z = o.noiseMultiplier;
  const tau = NOISE_TAIL_SIGMAS;
  // s·slope + offset ≤ INT32_MAX
  let slope = n * C;
  let offset = n / 2;
  if (o.mode === 'local') {
    slope += tau * Math.sqrt(n) * z * C;
  } else if (o.mode === 'distributed') {
    const spread = tau * z * Math.sqrt(n / o.threshold);
    slope += spread * C;
    offset += (spread * Math.sqrt(o.length)) / 2;
  } else if (o.mode !== 'off' && o.mode !== 'central') {
    throw new RangeError(`unknown noise mode "${String(o.mode)}"`);
  }
  const room = INT32_MAX - offset;
  let scale = room / slope;
  if (!(room > 0) || !Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(
      `no fixed-point scale fits ${n} clients in 32 bits: the rounding error and ${tau}σ of the ${o.mode} noise ` +
        `alone (${offset.toExponential(3)} integer units) exceed 2^31 − 1; lower the noise multiplier, raise the threshold or shrink the model`,
    );
  }
  // Float rounding may put the exact solution a hair over the bound: step down until it holds.
  while (worstCaseSum(scale, o) > INT32_MAX) scale *= 1 - 2 ** -40;
  return scale;
}

/** round(v·s) in two's complement: v·s must round into the int32 range (a clipped value always does). */
export function quantize(values: Float32Array, scale: number): Uint32Array {
  positive(scale, 'scale');
  const out = new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = Math.round(values[i] * scale);
    if (!(q >= -INT32_MAX && q <= INT32_MAX)) {
      throw new RangeError(`value ${values[i]} at index ${i} does not fit the fixed-point range at scale ${scale} (was it clipped?)`);
    }
    out[i] = q >>> 0;
  }
  return out;
}

/** The centred int32 representative of each coordinate of a sum mod 2^32, divided by s. */
export function dequantizeSum(sum: Uint32Array, scale: number): Float32Array {
  positive(scale, 'scale');
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i] | 0) / scale;
  return out;
}
