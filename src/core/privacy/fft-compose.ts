import FFT from 'fft.js';
import type { GridPld } from './grid-pld.js';

/**
 * A real FFT of even size N done as one complex FFT of size N/2 (fft.js) plus the standard even/odd split
 * (Press et al., Numerical Recipes, §12.3), with the twiddles e^(−2πik/N), k = 0 … N/2, kept per size.
 */
interface Plan {
  fft: FFT;
  cos: Float64Array;
  sin: Float64Array;
  /** Scratch: packed complex input and output of the half-size FFT, a real signal, two half spectra. */
  packed: Float64Array;
  transformed: Float64Array;
  real: Float64Array;
  spectrum: Float64Array;
  product: Float64Array;
}

/** Plans of the last sizes used (a 2^21 plan holds about 100 MB, so only a few are kept). */
const plans = new Map<number, Plan>();
const KEPT_PLANS = 2;

function newPlan(size: number): Plan {
  const half = size / 2;
  const cos = new Float64Array(half + 1);
  const sin = new Float64Array(half + 1);
  for (let k = 0; k <= half; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / size);
    sin[k] = Math.sin((2 * Math.PI * k) / size);
  }
  return {
    fft: new FFT(half),
    cos,
    sin,
    packed: new Float64Array(size),
    transformed: new Float64Array(size),
    real: new Float64Array(size),
    spectrum: new Float64Array(size + 2),
    product: new Float64Array(size + 2),
  };
}

function planFor(size: number): Plan {
  const plan = plans.get(size) ?? newPlan(size);
  plans.delete(size);
  plans.set(size, plan); // the most recently used last
  if (plans.size > KEPT_PLANS) plans.delete(plans.keys().next().value!);
  return plan;
}

/** X_k = Σ_n x_n e^(−2πikn/N) for k = 0 … N/2, written interleaved (re, im) to `out` (length N + 2). */
function realForward(plan: Plan, x: Float64Array, out: Float64Array): void {
  const half = x.length / 2;
  const { packed: z, transformed: w, cos, sin } = plan;
  z.set(x); // z_m = x_2m + i·x_2m+1
  plan.fft.transform(w, z);
  for (let k = 0; k <= half; k++) {
    const a = 2 * (k === half ? 0 : k);
    const b = 2 * (k === 0 ? 0 : half - k);
    // even part (Z_k + conj Z_{M−k})/2, odd part (Z_k − conj Z_{M−k})/(2i), X_k = even + e^(−2πik/N)·odd
    const er = (w[a] + w[b]) / 2;
    const ei = (w[a + 1] - w[b + 1]) / 2;
    const or = (w[a + 1] + w[b + 1]) / 2;
    const oi = (w[b] - w[a]) / 2;
    out[2 * k] = er + cos[k] * or + sin[k] * oi;
    out[2 * k + 1] = ei + cos[k] * oi - sin[k] * or;
  }
}

/** The real x (length N) whose spectrum is the Hermitian X, given as X_0 … X_{N/2} interleaved in `spectrum`. */
function realInverse(plan: Plan, spectrum: Float64Array, x: Float64Array): void {
  const half = x.length / 2;
  const { packed: z, transformed: w, cos, sin } = plan;
  for (let k = 0; k < half; k++) {
    const a = 2 * k;
    const b = 2 * (half - k);
    // E_k = (X_k + conj X_{M−k})/2, O_k = (X_k − conj X_{M−k})/2 · e^(2πik/N), Z_k = E_k + i·O_k
    const dr = (spectrum[a] - spectrum[b]) / 2;
    const di = (spectrum[a + 1] + spectrum[b + 1]) / 2;
    z[a] = (spectrum[a] + spectrum[b]) / 2 - (dr * sin[k] + di * cos[k]);
    z[a + 1] = (spectrum[a + 1] - spectrum[b + 1]) / 2 + (dr * cos[k] - di * sin[k]);
  }
  plan.fft.inverseTransform(w, z);
  x.set(w); // x_2m = Re z_m, x_2m+1 = Im z_m
}

/**
 * spectrum[k] ← spectrum[k]^r for the complex entries k = 0 … last, by repeated squaring (r ≥ 1); an entry whose
 * power is below 1e-300 in modulus (most of them, for a smooth sum of many rounds) is set to 0 without the work.
 */
function powerInPlace(spectrum: Float64Array, last: number, r: number): void {
  const negligible = Math.exp((-2 * 690.8) / r); // |w|² below this ⇒ |w|^r < 1e-300
  for (let k = 0; k <= last; k++) {
    let br = spectrum[2 * k];
    let bi = spectrum[2 * k + 1];
    if (br * br + bi * bi < negligible) {
      spectrum[2 * k] = spectrum[2 * k + 1] = 0;
      continue;
    }
    let pr = 1;
    let pi = 0;
    for (let e = r; ;) {
      if (e % 2 === 1) {
        const t = pr * br - pi * bi;
        pi = pr * bi + pi * br;
        pr = t;
      }
      e = Math.floor(e / 2);
      if (e === 0) break;
      const t = br * br - bi * bi;
      bi = 2 * br * bi;
      br = t;
    }
    spectrum[2 * k] = pr;
    spectrum[2 * k + 1] = pi;
  }
}

/**
 * Masses of the sum of `count` independent copies of each grid PLD (all on one step), at grid indices
 * start … start + size − 1. Composition is a product of powers in the Fourier domain (Koskela et al. 2020),
 * so the sum is cyclic modulo `size`: mass outside the window wraps into it, and the caller bounds it
 * (Chernoff) and accounts for it. `size` is a power of two ≥ 4. Rounding residue below zero is set to 0.
 */
export function composeOnWindow(parts: { pld: GridPld; count: number }[], start: number, size: number): Float64Array {
  const plan = planFor(size);
  const { real, spectrum, product } = plan;
  const half = size / 2;
  product.fill(0);
  for (let k = 0; k <= half; k++) product[2 * k] = 1;
  let shift = 0;
  for (const { pld, count } of parts) {
    real.fill(0);
    for (let j = 0; j < pld.masses.length; j++) real[j % size] += pld.masses[j];
    realForward(plan, real, spectrum);
    powerInPlace(spectrum, half, count);
    for (let k = 0; k <= half; k++) {
      const re = product[2 * k] * spectrum[2 * k] - product[2 * k + 1] * spectrum[2 * k + 1];
      product[2 * k + 1] = product[2 * k] * spectrum[2 * k + 1] + product[2 * k + 1] * spectrum[2 * k];
      product[2 * k] = re;
    }
    shift += count * pld.offset;
  }
  realInverse(plan, product, real);
  const out = new Float64Array(size);
  const first = (((start - shift) % size) + size) % size;
  for (let i = 0, index = first; i < size; i++, index = index + 1 === size ? 0 : index + 1) {
    out[i] = Math.max(0, real[index]);
  }
  return out;
}
