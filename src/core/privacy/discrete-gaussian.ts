import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { RandomStream } from './csprng.js';
import { SAMPLES_PER_SLICE } from './noise.js';

/**
 * The discrete Gaussian N_Z(0, σ²): P(X = k) ∝ exp(−k²/(2σ²)) over the integers (Canonne, Kamath, Steinke 2020,
 * "The Discrete Gaussian for Differential Privacy", arXiv:2004.00010). Distributed mode adds it to quantized
 * updates in Z_2^32 before secure aggregation.
 *
 * Sampler: their Algorithm 3 — draw Y from the discrete Laplace P(Y = y) ∝ exp(−|y|/t) with t = ⌊σ⌋ + 1 and
 * accept it with probability exp(−(|Y| − σ²/t)²/(2σ²)), else draw again (about 1.3 draws per sample).
 *
 * This is the floating-point variant, not their exact sampler in rational arithmetic: the acceptance
 * probability is an `exp` in doubles, compared against a 53-bit uniform, and |Y| is a geometric draw by
 * inversion, ⌊−t·ln U⌋ (P(G = g) = e^(−g/t)(1 − e^(−1/t))), with a random sign (a negative zero is redrawn).
 * No uniform integer in [0, t) is drawn, so there is no modulo bias; the only errors are double rounding
 * (relative ~1e-16 per probability). Randomness: the OS CSPRNG only (see csprng.ts), never Math.random.
 * A draw with |Y| > 2^31 − 1 is redrawn, so samples fit an Int32Array: the output is N_Z(0, σ²) conditioned on
 * |X| ≤ 2^31 − 1, at statistical distance P(|X| ≥ 2^31) from it — about 1e-15 at σ = 2^28 (8σ), 1.5e-23 at
 * σ = 2^31/10 (10σ, the largest per-client σ that secure aggregation's no-wrap bound allows), e^(−512) at σ = 2^26.
 */

/**
 * Largest σ accepted. Secure aggregation's quantization (n·(s·C + ½) + 10·σ_sum ≤ 2^31 − 1, σ_sum = √n·σ) allows
 * a per-client σ up to 2^31/(10√n) ≈ 2^27.7 for n = 1, so the bound sits just above that.
 */
export const MAX_DISCRETE_GAUSSIAN_SIGMA = 2 ** 28;
const INT32_MAX = 2 ** 31 - 1;
/** Expected 32-bit words per sample (≈1.3 draws × (2 + 2 + 1/32) words), for sizing the random stream. */
const WORDS_PER_SAMPLE = 6;

function checkSigma(sigma: number): void {
  if (!Number.isFinite(sigma) || sigma <= 0 || sigma > MAX_DISCRETE_GAUSSIAN_SIGMA) {
    throw new RangeError(`discrete Gaussian sigma must be finite, > 0 and <= 2^28, got ${sigma}`);
  }
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`sample count must be a non-negative integer, got ${count}`);
}

/** Calls `emit(i, x)` for i = 0 … count−1 with x ~ N_Z(0, σ²) independent, yielding to the event loop every SAMPLES_PER_SLICE samples. */
async function sample(count: number, sigma: number, emit: (i: number, x: number) => void): Promise<void> {
  checkCount(count);
  checkSigma(sigma);
  if (count === 0) return;
  const rng = new RandomStream(4 * WORDS_PER_SAMPLE * count);
  const t = Math.floor(sigma) + 1;
  const shift = (sigma * sigma) / t;
  const twoVariance = 2 * sigma * sigma;
  try {
    for (let i = 0, nextYield = SAMPLES_PER_SLICE; i < count;) {
      if (i >= nextYield) {
        nextYield += SAMPLES_PER_SLICE;
        await yieldToEventLoop();
      }
      const g = Math.floor(-Math.log(rng.uniform()) * t); // geometric, ratio e^(−1/t)
      const negative = rng.bit();
      if ((negative === 1 && g === 0) || g > INT32_MAX) continue;
      const d = g - shift;
      if (rng.uniform() < Math.exp(-(d * d) / twoVariance)) emit(i++, negative === 1 ? -g : g);
    }
  } finally {
    rng.dispose();
  }
}

/** `count` independent samples of N_Z(0, σ²). RangeError for σ not finite, ≤ 0 or > 2^28. */
export async function discreteGaussianSamples(count: number, sigma: number): Promise<Int32Array> {
  checkCount(count);
  const out = new Int32Array(count);
  await sample(count, sigma, (i, x) => {
    out[i] = x;
  });
  return out;
}

/**
 * Adds independent N_Z(0, σ²) noise to each value in place, mod 2^32 (values are two's-complement integers
 * in Z_2^32, as quantized updates are). Nothing but the noised values is kept.
 */
export async function addDiscreteGaussianNoise(values: Uint32Array, sigma: number): Promise<void> {
  await sample(values.length, sigma, (i, x) => {
    values[i] = (values[i] + x) >>> 0; // ToUint32 is reduction mod 2^32
  });
}

/** Beyond |k| = 12σ a term of the variance sums is below 1e-29 of the total. */
const VARIANCE_TAIL_SIGMAS = 12;
/** Above this many terms the pmf sums are replaced by their Poisson-summation duals (equal, and short). */
const MAX_DIRECT_TERMS = 1 << 24;

/**
 * Var[N_Z(0, σ²)] = Σ k² e^(−k²/2σ²) / Σ e^(−k²/2σ²), by summing the pmf directly (smallest terms first), an
 * oracle independent of the sampler. Below σ² for every σ (CKS 2020), by ≈ 8π²σ⁴·exp(−2π²σ²): ≈ σ² for σ ≥ 1
 * (2e-7 below at σ = 1) but 0.2149 for σ = 0.5. For σ > ~1.4e6 (more than 2^24 terms) it uses the Poisson
 * summation dual, which is exact too: Var = σ²(1 − 4π²σ² Σ_n n² e^(−2π²σ²n²) / Σ_n e^(−2π²σ²n²)) (= σ² in doubles).
 */
export function discreteGaussianVariance(sigma: number): number {
  if (!Number.isFinite(sigma) || sigma <= 0) throw new RangeError(`sigma must be finite and > 0, got ${sigma}`);
  const s2 = sigma * sigma;
  const terms = Math.ceil(VARIANCE_TAIL_SIGMAS * sigma) + 2;
  if (terms <= MAX_DIRECT_TERMS) {
    let mass = 0;
    let second = 0;
    for (let k = terms; k >= 1; k--) {
      const w = Math.exp(-(k * k) / (2 * s2));
      mass += w;
      second += k * k * w;
    }
    return (2 * second) / (1 + 2 * mass);
  }
  let mass = 0;
  let second = 0;
  for (let n = 8; n >= 1; n--) {
    const w = Math.exp(-2 * Math.PI * Math.PI * s2 * n * n);
    mass += w;
    second += n * n * w;
  }
  return s2 * (1 - (4 * Math.PI * Math.PI * s2 * 2 * second) / (1 + 2 * mass));
}

/**
 * τ of Kairouz, Liu, Steinke 2021 ("The Distributed Discrete Gaussian Mechanism for Federated Learning with
 * Secure Aggregation", arXiv:2102.06387, Thm. 1 / Prop. 14): τ = 10 · Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)) for n
 * summands of N_Z(0, σ²) each. It measures how far their sum is from one discrete Gaussian N_Z(0, nσ²). The terms
 * shrink with k from exp(−π²σ²) towards exp(−2π²σ²), so τ < 10·n·exp(−π²σ²): ≈ 7e-17 at σ = 2 (for any n) and
 * exactly 0 in doubles from σ ≈ 8.7 on.
 */
export function distributedDiscreteGaussianTau(sigma: number, summands: number): number {
  if (!Number.isFinite(sigma) || sigma <= 0) throw new RangeError(`sigma must be finite and > 0, got ${sigma}`);
  if (!Number.isSafeInteger(summands) || summands < 1) throw new RangeError(`summands must be an integer >= 1, got ${summands}`);
  const a = 2 * Math.PI * Math.PI * sigma * sigma;
  let sum = 0;
  for (let k = 1; k < summands; k++) {
    const term = Math.exp((-a * k) / (k + 1));
    if (term === 0) break; // terms shrink as k grows: once one underflows, all later ones do
    sum += term;
  }
  return 10 * sum;
}

export interface DistributedRdpArgs {
  /** Rényi order α ≥ 1. */
  order: number;
  /** Each client's discrete Gaussian σ (integer units), ≥ 1/2. */
  sigma: number;
  /** Number of clients whose noise is in the sum (n ≥ t survivors). */
  summands: number;
  /** ℓ2 sensitivity Δ₂ of one client's integer update. */
  l2Sensitivity: number;
  /** ℓ1 sensitivity Δ₁; default √d·Δ₂ (Cauchy–Schwarz). */
  l1Sensitivity?: number;
  /** Dimension d of the update. */
  dimension: number;
}

/**
 * RDP at order α of adding the sum of n independent N_Z(0, σ²)^d vectors to an integer query with sensitivities
 * Δ₂, Δ₁ (KLS 2021, Thm. 1): D_α ≤ min{ αΔ₂²/(2nσ²) + τd, (α/2)(Δ₂²/(nσ²) + 2Δ₁τ/(√n σ) + τ²d),
 * (α/2)(Δ₂/(√n σ) + τ√d)² }. With nσ² ≥ z²Δ₂² and τ ≈ 0 this is the Gaussian's α/(2z²), which is why the ledger
 * accounts a distributed round like a central one with the full z.
 */
export function distributedDiscreteGaussianRdp(args: DistributedRdpArgs): number {
  const { order: alpha, sigma, summands: n, l2Sensitivity: l2, dimension: d } = args;
  if (!(alpha >= 1) || !Number.isFinite(alpha)) throw new RangeError(`order must be finite and >= 1, got ${alpha}`);
  if (!(sigma >= 0.5) || !Number.isFinite(sigma)) throw new RangeError(`sigma must be finite and >= 1/2 (KLS 2021, Thm. 1), got ${sigma}`);
  if (!Number.isSafeInteger(d) || d < 1) throw new RangeError(`dimension must be an integer >= 1, got ${d}`);
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new RangeError(`l2Sensitivity must be finite and >= 0, got ${l2}`);
  const l1 = args.l1Sensitivity ?? Math.sqrt(d) * l2;
  const tau = distributedDiscreteGaussianTau(sigma, n);
  const ratio2 = (l2 * l2) / (n * sigma * sigma);
  const b1 = (alpha * ratio2) / 2 + tau * d;
  const b2 = (alpha / 2) * (ratio2 + (2 * l1 * tau) / (Math.sqrt(n) * sigma) + tau * tau * d);
  const b3 = (alpha / 2) * (l2 / (Math.sqrt(n) * sigma) + tau * Math.sqrt(d)) ** 2;
  return Math.min(b1, b2, b3);
}
