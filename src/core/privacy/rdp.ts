import erfc from '@stdlib/math-base-special-erfc';
import erfcx from '@stdlib/math-base-special-erfcx';
import gammaln from '@stdlib/math-base-special-gammaln';

/** RDP orders as Opacus uses them: 1.1..10.9 step 0.1, then 12..63 (11 is not in the list). */
export const DEFAULT_ORDERS: number[] = [...Array.from({ length: 99 }, (_, i) => (11 + i) / 10), ...Array.from({ length: 52 }, (_, i) => 12 + i)];

/** One run of identical rounds of the Poisson-subsampled Gaussian mechanism. */
export interface RoundRecord {
  noiseMultiplier: number;
  samplingRate: number;
  /** Number of identical rounds this record stands for; defaults to 1. */
  rounds?: number;
}

/** Stop the fractional-order series once both terms fall below e^-30 (PRIVACY-MATH.md). */
const SERIES_LOG_CUTOFF = -30;

/** log(e^x + e^y), exact for -Infinity inputs. */
function logAdd(x: number, y: number): number {
  const hi = Math.max(x, y);
  const lo = Math.min(x, y);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^x - e^y) for x >= y; the series is a sum of magnitudes so x < y is a numerical bug. */
function logSub(x: number, y: number): number {
  if (y === -Infinity) return x;
  if (x < y) throw new RangeError(`logSub: result would be negative (log ${x} - log ${y})`);
  if (x === y) return -Infinity;
  const d = x - y;
  // log(e^x - e^y) = y + log(expm1(x - y)); for large d expm1 overflows, and then it is x.
  return d > 700 ? x : y + Math.log(Math.expm1(d));
}

/** log erfc(x), accurate where erfc underflows: log erfc = log erfcx(x) − x² for x > 0. */
function logErfc(x: number): number {
  return x > 0 ? Math.log(erfcx(x)) - x * x : Math.log(erfc(x));
}

/** log|binom(a, i)| and its sign for real a > 0 and integer i >= 0 (Γ-function form). */
function logBinom(a: number, i: number): { log: number; sign: 1 | -1 } {
  const log = gammaln(a + 1) - gammaln(i + 1) - gammaln(a - i + 1);
  // binom(a,i) = a(a-1)…(a-i+1)/i!: one negative factor for each k in (a, i-1], none if a is an integer >= i.
  const negativeFactors = Number.isInteger(a) ? 0 : Math.max(0, i - Math.floor(a) - 1);
  return { log, sign: negativeFactors % 2 === 0 ? 1 : -1 };
}

/** log(e^x − 1) for x > 0, without overflow for large x. */
function logExpm1(x: number): number {
  return x > 50 ? x + Math.log1p(-Math.exp(-x)) : Math.log(Math.expm1(x));
}

/**
 * log A_a for integer a: the binomial sum of Mironov, Talwar, Zhang 2019, §3.3, in log space. The
 * binomial weights sum to 1, so A_a − 1 = Σ_{i≥2} binom(a,i) q^i (1−q)^(a−i) (e^((i²−i)/(2z²)) − 1):
 * all terms positive, and log A_a = log1p(A_a − 1) keeps full relative precision as q → 0.
 */
function logAInteger(q: number, z: number, a: number): number {
  let logAMinus1 = -Infinity;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  for (let i = 2; i <= a; i++) {
    const term = logBinom(a, i).log + i * logQ + (a - i) * log1mQ + logExpm1((i * i - i) / (2 * z * z));
    logAMinus1 = logAdd(logAMinus1, term);
  }
  return logAdd(0, logAMinus1);
}

/** log A_a for fractional a: the two-sided erfc series of Mironov, Talwar, Zhang 2019, §3.3. */
function logAFractional(q: number, z: number, a: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  const scale = Math.SQRT2 * z;
  for (let i = 0; ; i++) {
    const j = a - i;
    const coef = logBinom(a, i);
    const logS0 = coef.log + i * logQ + j * log1mQ + (i * i - i) / (2 * z * z) + Math.log(0.5) + logErfc((i - z0) / scale);
    const logS1 = coef.log + j * logQ + i * log1mQ + (j * j - j) / (2 * z * z) + Math.log(0.5) + logErfc((z0 - j) / scale);
    if (coef.sign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < SERIES_LOG_CUTOFF) break;
  }
  return logAdd(logA0, logA1);
}

function checkRate(q: number): void {
  if (!Number.isFinite(q) || q < 0 || q > 1) throw new RangeError(`samplingRate must be in [0, 1], got ${q}`);
}

function checkNoise(z: number): void {
  if (!Number.isFinite(z) || z < 0) throw new RangeError(`noiseMultiplier must be finite and >= 0, got ${z}`);
}

function checkOrder(a: number): void {
  if (!Number.isFinite(a) || a <= 1) throw new RangeError(`RDP order must be finite and > 1, got ${a}`);
}

/** RDP at `order` of one Poisson-subsampled Gaussian round (Mironov, Talwar, Zhang 2019, arXiv:1908.10530). */
export function rdpSubsampledGaussian(samplingRate: number, noiseMultiplier: number, order: number): number {
  checkRate(samplingRate);
  checkNoise(noiseMultiplier);
  checkOrder(order);
  const q = samplingRate;
  const z = noiseMultiplier;
  if (q === 0) return 0;
  if (z === 0) return Infinity;
  if (q === 1) return order / (2 * z * z); // plain Gaussian mechanism (Mironov 2017, Prop. 7)
  const logA = Number.isInteger(order) ? logAInteger(q, z, order) : logAFractional(q, z, order);
  // Rényi divergence of distinct distributions is > 0, but the series can round to ≤ 0 at tiny q:
  // floor at the smallest positive double so that an exact 0 means q = 0 (nothing released).
  return Math.max(logA / (order - 1), Number.MIN_VALUE);
}

/** Best (ε, δ) from RDP curves: Balle et al. 2020 (arXiv:1905.09982) Thm 21, minimised over orders. */
export function epsilonFromRdp(orders: number[], rdp: number[], delta: number): { epsilon: number; order: number } {
  if (orders.length !== rdp.length) throw new RangeError(`orders (${orders.length}) and rdp (${rdp.length}) differ in length`);
  if (orders.length === 0) throw new RangeError('need at least one order');
  if (!Number.isFinite(delta) || delta <= 0 || delta >= 1) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  let best = { epsilon: Infinity, order: orders[0] };
  orders.forEach((a, k) => {
    checkOrder(a);
    // ε(a) = RDP(a) + ln((a−1)/a) − (ln δ + ln a)/(a−1)   (Balle et al. 2020, Thm 21);
    // RDP 0 at any order means identical output distributions, i.e. (0, 0)-DP (van Erven & Harremoës 2014, Thm 8).
    const eps = rdp[k] === 0 ? 0 : rdp[k] + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (!Number.isNaN(eps) && eps < best.epsilon) best = { epsilon: eps, order: a };
  });
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** Total RDP at each order of a sequence of (possibly different) rounds: RDP adds up under composition. */
export function computeRdp(records: readonly RoundRecord[], orders: number[] = DEFAULT_ORDERS): number[] {
  const total = orders.map(() => 0);
  for (const r of records) {
    const rounds = r.rounds ?? 1;
    if (!Number.isInteger(rounds) || rounds < 0) throw new RangeError(`rounds must be a non-negative integer, got ${rounds}`);
    if (rounds === 0) continue;
    orders.forEach((a, k) => {
      total[k] += rounds * rdpSubsampledGaussian(r.samplingRate, r.noiseMultiplier, a);
    });
  }
  return total;
}

/** ε after `rounds` identical subsampled-Gaussian rounds, by RDP accounting. */
export function computeEpsilon(args: { noiseMultiplier: number; samplingRate: number; rounds: number; delta: number; orders?: number[] }): {
  epsilon: number;
  order: number;
  accountant: 'rdp';
} {
  const orders = args.orders ?? DEFAULT_ORDERS;
  const rdp = computeRdp([{ noiseMultiplier: args.noiseMultiplier, samplingRate: args.samplingRate, rounds: args.rounds }], orders);
  return { ...epsilonFromRdp(orders, rdp, args.delta), accountant: 'rdp' };
}
