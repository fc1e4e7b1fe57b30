import { logAddExp, logNormalCdf, logNormalSf, logSubExp } from './log-normal.js';

/**
 * Which of the two neighbouring federations is the bigger one. One Poisson-subsampled Gaussian round
 * (sensitivity 1, noise std z) compares M = (1−q)·N(0,z²) + q·N(1,z²) with N(0,z²): 'remove' is the pair
 * (P, Q) = (M, N(0,z²)), 'add' the pair (N(0,z²), M). Add/remove DP needs both (Zhu, Dong, Wang 2022, §5).
 */
export type Neighbouring = 'remove' | 'add';

/** The privacy loss L = log(P/Q)(x), x ~ P, of one round, by its closed-form tails and hockey-stick curve. */
export interface PrivacyLoss {
  /** Infimum and supremum of L (±∞ where unbounded). */
  readonly lower: number;
  readonly upper: number;
  /** Hockey-stick divergence δ(ε) = E_P[(1 − e^(ε−L))₊] = sup_S P(S) − e^ε Q(S). */
  delta(epsilon: number): number;
  /**
   * δ(ε) − (1 − e^ε) = e^ε Q(L ≤ ε) − P(L ≤ ε) = sup_S e^ε Q(S) − P(S): the same curve less a part linear in e^ε,
   * and the small one of the two for ε < 0, where δ is close to 1 − e^ε.
   */
  deltaComplement(epsilon: number): number;
  /** log P(L > ε). */
  logSurvival(epsilon: number): number;
  /** log P(L ≤ ε). */
  logCdf(epsilon: number): number;
}

/** log(e^y − (1 − q)) where e^y > 1 − q, without cancellation unless e^y is close to 1 − q; −∞ where it rounds to ≤ 0. */
function logExpMinusOneMinus(y: number, q: number): number {
  if (q === 1) return y;
  const c = (1 - q) * Math.exp(-y);
  if (c < 0.5) return y + Math.log1p(-c);
  const v = Math.expm1(y) + q;
  return v > 0 ? Math.log(v) : -Infinity;
}

/**
 * The loss is monotone in x, and L(x) = ±ε at x* = z²·w + 1/2 with w = log((e^(±ε) − 1 + q)/q)
 * (Mironov, Talwar, Zhang 2019, §3.3). Returns w and the standardised threshold b = x* / z.
 */
function threshold(y: number, q: number, z: number): { w: number; b: number } {
  const w = logExpMinusOneMinus(y, q) - Math.log(q);
  return { w, b: z * w + 1 / (2 * z) };
}

/** P = M, Q = N(0,z²): L(x) = log(1 − q + q·e^((2x−1)/(2z²))), increasing in x, bounded below by log(1−q). */
function removeLoss(q: number, z: number): PrivacyLoss {
  const lower = Math.log1p(-q);
  const logQ = Math.log(q);
  return {
    lower,
    upper: Infinity,
    delta(epsilon) {
      if (epsilon <= lower) return -Math.expm1(epsilon);
      const { w, b } = threshold(epsilon, q, z);
      // δ = q·[Φ̄(b − 1/z) − e^w Φ̄(b)]
      return Math.exp(logQ + logSubExp(logNormalSf(b - 1 / z), w + logNormalSf(b)));
    },
    deltaComplement(epsilon) {
      if (epsilon <= lower) return 0;
      const { w, b } = threshold(epsilon, q, z);
      // e^ε Φ(b) − (1−q)Φ(b) − qΦ(b − 1/z) = q·[e^w Φ(b) − Φ(b − 1/z)]
      return Math.exp(logQ + logSubExp(w + logNormalCdf(b), logNormalCdf(b - 1 / z)));
    },
    logSurvival(epsilon) {
      if (epsilon <= lower) return 0;
      const { b } = threshold(epsilon, q, z);
      return logAddExp(lower + logNormalSf(b), logQ + logNormalSf(b - 1 / z));
    },
    logCdf(epsilon) {
      if (epsilon <= lower) return -Infinity;
      const { b } = threshold(epsilon, q, z);
      return logAddExp(lower + logNormalCdf(b), logQ + logNormalCdf(b - 1 / z));
    },
  };
}

/** P = N(0,z²), Q = M: L(x) = −log(1 − q + q·e^((2x−1)/(2z²))), decreasing in x, bounded above by −log(1−q). */
function addLoss(q: number, z: number): PrivacyLoss {
  const upper = -Math.log1p(-q);
  const logQ = Math.log(q);
  return {
    lower: -Infinity,
    upper,
    delta(epsilon) {
      if (epsilon >= upper) return 0;
      const { w, b } = threshold(-epsilon, q, z);
      // δ = q·e^ε·[e^w Φ(b) − Φ(b − 1/z)]
      return Math.exp(logQ + epsilon + logSubExp(w + logNormalCdf(b), logNormalCdf(b - 1 / z)));
    },
    deltaComplement(epsilon) {
      if (epsilon >= upper) return Math.expm1(epsilon);
      const { w, b } = threshold(-epsilon, q, z);
      // e^ε[(1−q)Φ̄(b) + qΦ̄(b − 1/z)] − Φ̄(b) = q·e^ε·[Φ̄(b − 1/z) − e^w Φ̄(b)]
      return Math.exp(logQ + epsilon + logSubExp(logNormalSf(b - 1 / z), w + logNormalSf(b)));
    },
    logSurvival(epsilon) {
      return epsilon >= upper ? -Infinity : logNormalCdf(threshold(-epsilon, q, z).b);
    },
    logCdf(epsilon) {
      return epsilon >= upper ? 0 : logNormalSf(threshold(-epsilon, q, z).b);
    },
  };
}

/** Privacy loss of one Poisson-subsampled Gaussian round with sampling rate q ∈ (0, 1] and noise multiplier z > 0. */
export function sampledGaussianLoss(samplingRate: number, noiseMultiplier: number, neighbouring: Neighbouring): PrivacyLoss {
  if (!(samplingRate > 0 && samplingRate <= 1)) throw new RangeError(`samplingRate must be in (0, 1], got ${samplingRate}`);
  if (!(noiseMultiplier > 0 && noiseMultiplier < Infinity)) {
    throw new RangeError(`noiseMultiplier must be finite and > 0, got ${noiseMultiplier}`);
  }
  return neighbouring === 'remove' ? removeLoss(samplingRate, noiseMultiplier) : addLoss(samplingRate, noiseMultiplier);
}
