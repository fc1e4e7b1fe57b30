import { ACCOUNTANTS, epsilonFor, type AccountantName } from './epsilon.js';
import { prvEpsilon } from './prv.js';

export interface NoiseForTargetArgs {
  targetEpsilon: number;
  delta: number;
  samplingRate: number;
  rounds: number;
  accountant?: AccountantName;
}

/** Noise multipliers are searched on a grid of 1e-3 up to 1000: z = k / 1000 with k an integer. */
const STEPS_PER_UNIT = 1000;
const MAX_STEPS = 1000 * STEPS_PER_UNIT;
/** A coarse PRV grid (error bound 0.1 instead of 0.01) locates the answer; the requested accountant then settles it. */
const COARSE_PRV_ERROR = 0.1;

/** Smallest k in (lo, hi] with `fits(k)`, given that fits(hi) holds, fits(lo) does not and fits is monotone. */
function bisect(fits: (k: number) => boolean, lo: number, hi: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The smallest k with fits(k), searched outward from `guess` by doubling steps, then by bisection; fits(MAX_STEPS) holds. */
function settle(fits: (k: number) => boolean, guess: number): number {
  let step = 1;
  if (fits(guess)) {
    let [lo, hi] = [guess - 1, guess];
    while (lo > 0 && fits(lo)) [hi, lo, step] = [lo, Math.max(0, lo - 2 * step), 2 * step];
    return bisect(fits, lo, hi);
  }
  let [lo, hi] = [guess, Math.min(MAX_STEPS, guess + 1)];
  while (!fits(hi)) [lo, hi, step] = [hi, Math.min(MAX_STEPS, hi + 2 * step), 2 * step];
  return bisect(fits, lo, hi);
}

/** `f` with its results remembered. */
function memo<T>(f: (k: number) => T): (k: number) => T {
  const seen = new Map<number, T>();
  return (k) => {
    if (!seen.has(k)) seen.set(k, f(k));
    return seen.get(k)!;
  };
}

function checkArgs({ targetEpsilon, delta, samplingRate, rounds, accountant }: NoiseForTargetArgs): void {
  if (!(targetEpsilon > 0 && targetEpsilon < Infinity)) throw new RangeError(`targetEpsilon must be finite and > 0, got ${targetEpsilon}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  if (!(samplingRate > 0 && samplingRate <= 1)) throw new RangeError(`samplingRate must be in (0, 1], got ${samplingRate}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
  if (accountant !== undefined && !ACCOUNTANTS.includes(accountant)) {
    throw new RangeError(`unknown accountant "${String(accountant)}" (expected ${ACCOUNTANTS.join(' or ')})`);
  }
}

/**
 * Smallest noise multiplier z (on a 1e-3 grid) whose ε after `rounds` rounds at sampling rate q is ≤ the target:
 * ε(z) ≤ target and ε(z − 0.001) > target under the chosen accountant (default PRV). Throws a RangeError when no
 * z ≤ 1000 reaches the target.
 */
export function noiseForTargetEpsilon(args: NoiseForTargetArgs): { noiseMultiplier: number; epsilon: number } {
  checkArgs(args);
  const { targetEpsilon, delta, samplingRate, rounds, accountant = 'prv' } = args;
  const record = (k: number) => [{ noiseMultiplier: k / STEPS_PER_UNIT, samplingRate, rounds }];
  // k = 0 is z = 0: no noise, ε = ∞ > target; it is never evaluated.
  const epsilon = memo((k) => epsilonFor(record(k), delta, accountant).epsilon);
  const fits = (k: number) => epsilon(k) <= targetEpsilon;
  if (!fits(MAX_STEPS)) {
    throw new RangeError(
      `no noise multiplier ≤ ${MAX_STEPS / STEPS_PER_UNIT} reaches ε ≤ ${targetEpsilon} at δ = ${delta} ` +
        `with sampling rate ${samplingRate} over ${rounds} rounds (${accountant.toUpperCase()} accountant)`,
    );
  }
  const roughFits = accountant === 'prv' ? memo((k) => prvEpsilon(record(k), delta, { epsilonErrorTarget: COARSE_PRV_ERROR }).epsilon <= targetEpsilon) : fits;
  let hi = STEPS_PER_UNIT;
  while (hi < MAX_STEPS && !roughFits(hi)) hi = Math.min(MAX_STEPS, 2 * hi);
  let lo = Math.floor(hi / 2);
  while (lo > 0 && roughFits(lo)) [hi, lo] = [lo, Math.floor(lo / 2)];
  const k = settle(fits, roughFits(hi) ? bisect(roughFits, lo, hi) : MAX_STEPS);
  return { noiseMultiplier: k / STEPS_PER_UNIT, epsilon: epsilon(k) };
}
