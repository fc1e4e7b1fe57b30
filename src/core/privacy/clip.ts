/** L2 norm of a float32 vector, accumulated in float64. */
export function l2Norm(v: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}

/**
 * Clip an update in place to L2 norm `clipNorm` (DP-FedAvg, McMahan et al. 2018): scales it by min(1, C/‖u‖).
 * The norm of the float32 result is measured in the same pass that scales it, and scaled down once more by the
 * overshoot plus one float32 ulp in the rare case rounding left it above C. Returns the norm before clipping and the
 * factor applied.
 */
export function clipInPlace(update: Float32Array, clipNorm: number): { norm: number; scale: number } {
  if (!Number.isFinite(clipNorm) || clipNorm <= 0) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  const norm = l2Norm(update);
  if (!Number.isFinite(norm)) throw new RangeError('update contains NaN or Infinity');
  if (norm <= clipNorm) return { norm, scale: 1 };
  let scale = 1;
  for (let factor = clipNorm / norm; ;) {
    let sum = 0;
    for (let i = 0; i < update.length; i++) {
      update[i] *= factor;
      sum += update[i] * update[i];
    }
    scale *= factor;
    const clippedNorm = Math.sqrt(sum);
    if (clippedNorm <= clipNorm) return { norm, scale };
    factor = (clipNorm / clippedNorm) * (1 - 2 ** -23);
  }
}

/** As clipInPlace, on a copy: `update` is left untouched. */
export function clipToNorm(update: Float32Array, clipNorm: number): { clipped: Float32Array; norm: number; scale: number } {
  const clipped = update.slice();
  return { clipped, ...clipInPlace(clipped, clipNorm) };
}

/** Model update local − global, against the global weights received this round (never against zeros). */
export function updateDelta(local: Float32Array, global: Float32Array): Float32Array {
  if (local.length !== global.length) throw new RangeError(`length mismatch: local ${local.length}, global ${global.length}`);
  const out = new Float32Array(local.length);
  for (let i = 0; i < local.length; i++) {
    out[i] = local[i] - global[i];
    // Checked after float32 rounding, so an overflowing difference is caught too.
    if (!Number.isFinite(out[i])) throw new RangeError(`non-finite delta at index ${i} (local ${local[i]}, global ${global[i]})`);
  }
  return out;
}
