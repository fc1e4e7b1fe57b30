/** L2 norm of a float32 vector, accumulated in float64. */
export function l2Norm(v: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}

/** Float32 copy of `v` scaled by `scale` (product formed in float64, then rounded once). */
function scaled(v: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * scale;
  return out;
}

/**
 * Clip an update to L2 norm `clipNorm` (DP-FedAvg, McMahan et al. 2018): returns a new array scaled by
 * min(1, C/‖u‖). The float32 result's norm is checked and nudged down so that rounding never lifts it above C.
 */
export function clipToNorm(update: Float32Array, clipNorm: number): { clipped: Float32Array; norm: number; scale: number } {
  if (!Number.isFinite(clipNorm) || clipNorm <= 0) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  const norm = l2Norm(update);
  if (!Number.isFinite(norm)) throw new RangeError('update contains NaN or Infinity');
  if (norm <= clipNorm) return { clipped: update.slice(), norm, scale: 1 };
  let scale = clipNorm / norm;
  let clipped = scaled(update, scale);
  // Float32 rounding can leave the norm a few ulps above C: shrink by the overshoot plus one float32 ulp.
  for (let n = l2Norm(clipped); n > clipNorm; n = l2Norm(clipped)) {
    scale *= (clipNorm / n) * (1 - 2 ** -23);
    clipped = scaled(update, scale);
  }
  return { clipped, norm, scale };
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
