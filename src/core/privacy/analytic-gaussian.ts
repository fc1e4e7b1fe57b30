import { logNormalCdf, logSubExp } from './log-normal.js';

function checkRatio(sensitivityOverStd: number): void {
  if (!(sensitivityOverStd > 0) || Number.isNaN(sensitivityOverStd)) {
    throw new RangeError(`sensitivityOverStd must be > 0, got ${sensitivityOverStd}`);
  }
}

/**
 * Exact δ(ε) of the Gaussian mechanism with sensitivity Δ and noise std s, r = Δ/s (Balle & Wang 2018, Thm 8):
 * δ = Φ(r/2 − ε/r) − e^ε Φ(−r/2 − ε/r), both terms in log space so tiny δ keeps its relative precision.
 * T rounds with noise multiplier z compose to r = √T / z.
 */
export function gaussianDelta(epsilon: number, sensitivityOverStd: number): number {
  checkRatio(sensitivityOverStd);
  if (Number.isNaN(epsilon)) throw new RangeError('epsilon must be a number');
  const r = sensitivityOverStd;
  if (r === Infinity) return 1;
  return Math.exp(logSubExp(logNormalCdf(r / 2 - epsilon / r), epsilon + logNormalCdf(-r / 2 - epsilon / r)));
}

/** Smallest ε ≥ 0 with gaussianDelta(ε, r) ≤ δ: bisection on the decreasing δ(ε) to 1e-12 (relative above ε = 1). */
export function gaussianEpsilon(delta: number, sensitivityOverStd: number): number {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  checkRatio(sensitivityOverStd);
  if (sensitivityOverStd === Infinity) return Infinity;
  if (gaussianDelta(0, sensitivityOverStd) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (gaussianDelta(hi, sensitivityOverStd) > delta) [lo, hi] = [hi, 2 * hi];
  for (let mid = (lo + hi) / 2; hi - lo > 1e-12 * Math.max(1, lo) && mid > lo && mid < hi; mid = (lo + hi) / 2) {
    if (gaussianDelta(mid, sensitivityOverStd) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}
