import { composeOnWindow } from './fft-compose.js';
import { connectTheDots, epsilonForDelta, logMgf, type GridPld } from './grid-pld.js';
import type { RoundRecord } from './rdp.js';
import { sampledGaussianLoss, type Neighbouring, type PrivacyLoss } from './sampled-gaussian-loss.js';

/**
 * Tight (ε, δ) accounting of Poisson-subsampled Gaussian rounds under add/remove neighbouring, by composing
 * privacy-loss random variables on a grid with the FFT (Gopi, Lee, Wutschitz 2021, arXiv:2106.02848).
 *
 * Upper bound. Each round's privacy loss, in each direction, is discretised by connect-the-dots
 * (Doroshenko et al. 2022), a pessimistic discretisation: the grid pair dominates the true pair, dominance
 * survives composition (Zhu, Dong, Wang 2022, Thm 10), and the mass the FFT window cannot hold is bounded by a
 * Chernoff bound and charged to δ. Remove and add neighbours are composed separately (each with its own grid)
 * and `epsilon` is the worse of the two; it is never below the exact value (up to float rounding).
 *
 * Error. Connect-the-dots moves a loss X in [s, s + h] to Y ∈ {s, s + h} with E[e^−(Y−X) | X] = 1, so
 * 0 ≤ E[Y − X | X] ≤ h²/8 and, by Hoeffding over n rounds, Σ(Y − X) ≤ t = n h²/8 + h √(n ln(1/η)/2) but
 * with probability η (the coupling argument of Gopi et al. 2021, §5). Hence the exact ε is at least
 * ε_grid(δ + η + tails) − t; `epsilonError` is the distance from `epsilon` to that lower bound.
 *
 * Grid. η = 1e-3·δ; the P-mass beyond the rounds' grids gets 1e-6·δ per tail (all rounds together) and the
 * composed sum beyond each end of the FFT window 1e-4·δ. A pilot grid of 2048 steps over the widest round gives
 * that window by a Chernoff bound (plus a 2% margin); the step h is the largest with t ≤ 0.9 × the error target
 * (default 0.01), and the FFT size the next power of two that holds the window at that step, at most 2^21 (past
 * it h grows and so does the stated error: about 0.03 for q = 1, z = 0.8, T = 1000; 5.6 at ε ≈ 2·10^5 for
 * q = 1, z = 0.5, T = 10^5). The window's and the truncated tails' actual mass is bounded again on the final grid.
 * Identical (q, z) records are merged: T identical rounds are one power of the round's transform.
 */

export interface PrvOptions {
  /** Error bound the grid is chosen to meet (while the FFT size cap allows); default 0.01. */
  epsilonErrorTarget?: number;
  /** Largest FFT size, a power of two ≥ 1024; default 2^21. */
  maxGridSize?: number;
}

export interface PrvResult {
  epsilon: number;
  /** The exact ε lies in [epsilon − epsilonError, epsilon]. */
  epsilonError: number;
  accountant: 'prv';
}

const DEFAULT_ERROR_TARGET = 0.01;
const DEFAULT_MAX_GRID = 2 ** 21;
const MIN_GRID = 1024;
const PILOT_POINTS = 2048;
/** Share of δ given to the Hoeffding failure probability η of the lower bound. */
const HOEFFDING_SHARE = 1e-3;
/** Share of δ for the P-mass beyond the rounds' grids (each tail, all rounds together). */
const TAIL_SHARE = 1e-6;
/** Share of δ for the mass of the composed sum beyond each end of the FFT window. */
const WINDOW_SHARE = 1e-4;
/** Share of the error target given to the coupling term t (the rest covers the δ shares above). */
const COUPLING_SHARE = 0.9;
/** Chernoff exponents λ = 2^(k/2), k = −30 … 14. */
const LAMBDAS = Array.from({ length: 45 }, (_, k) => 2 ** ((k - 30) / 2));

interface Round {
  samplingRate: number;
  noiseMultiplier: number;
  count: number;
}

interface Part {
  pld: GridPld;
  count: number;
}

/** Merges records with the same (q, z) and drops those that release nothing (q = 0 or no rounds). */
function groupRounds(records: readonly RoundRecord[]): Round[] {
  const groups = new Map<string, Round>();
  for (const { samplingRate: q, noiseMultiplier: z, rounds = 1 } of records) {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`samplingRate must be in [0, 1], got ${q}`);
    if (!(z >= 0 && z < Infinity)) throw new RangeError(`noiseMultiplier must be finite and >= 0, got ${z}`);
    if (!Number.isInteger(rounds) || rounds < 0) throw new RangeError(`rounds must be a non-negative integer, got ${rounds}`);
    if (q === 0 || rounds === 0) continue;
    const key = `${q}/${z}`;
    const group = groups.get(key);
    if (group) group.count += rounds;
    else groups.set(key, { samplingRate: q, noiseMultiplier: z, count: rounds });
  }
  return [...groups.values()];
}

/** The point `from + direction·s` with the smallest s ≥ 0 (to 2^-40 of the bracket) at which the monotone `done` holds. */
function firstWhere(done: (x: number) => boolean, from: number, direction: 1 | -1): number {
  let hi = 1;
  while (!done(from + direction * hi)) hi *= 2;
  let lo = 0;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (done(from + direction * mid)) hi = mid;
    else lo = mid;
  }
  return from + direction * hi;
}

/** Grid range for one round's loss: its bounded ends, else where the tail falls below e^logTail. */
function support(loss: PrivacyLoss, logTail: number): [number, number] {
  const lo = Number.isFinite(loss.lower) ? loss.lower : firstWhere((e) => loss.logCdf(e) <= logTail, Math.min(0, loss.upper), -1);
  const hi = Number.isFinite(loss.upper) ? loss.upper : firstWhere((e) => loss.logSurvival(e) <= logTail, Math.max(0, loss.lower), 1);
  return [lo, hi];
}

/** Σ count·log E[e^(λL)] of the composed grid PLD (λ of either sign). */
function cumulant(parts: Part[], lambda: number): number {
  return parts.reduce((acc, { pld, count }) => acc + count * logMgf(pld, lambda), 0);
}

/**
 * Chernoff bounds on the composed sum S: log P(S ≥ s) ≤ K(λ) − λs and log P(S ≤ s) ≤ K(−λ) + λs for λ > 0.
 * Returns the best λ over LAMBDAS for each side at the given tail level and where that tail level is reached.
 */
function chernoffWindow(parts: Part[], logTail: number): { lo: number; hi: number; lambdaLo: number; lambdaHi: number } {
  const above = LAMBDAS.map((l) => (cumulant(parts, l) - logTail) / l);
  const below = LAMBDAS.map((l) => (logTail - cumulant(parts, -l)) / l);
  const hi = Math.min(...above);
  const lo = Math.max(...below);
  return { lo, hi, lambdaLo: LAMBDAS[below.indexOf(lo)], lambdaHi: LAMBDAS[above.indexOf(hi)] };
}

/** Coupling error of n rounds on step h: n h²/8 + h √(n ln(1/η)/2) (Hoeffding; Gopi et al. 2021, §5). */
function couplingError(n: number, step: number, logInvEta: number): number {
  return (n * step * step) / 8 + step * Math.sqrt((n * logInvEta) / 2);
}

/** The step h at which couplingError(n, h) equals `target` (root of n h²/8 + c h − target). */
function stepForError(n: number, target: number, logInvEta: number): number {
  const c = Math.sqrt((n * logInvEta) / 2);
  return ((Math.sqrt(c * c + (n * target) / 2) - c) * 4) / n;
}

function nextPowerOfTwo(x: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, x)));
}

/** Upper and lower bounds on ε for one direction of the neighbouring relation. */
function directionBounds(rounds: Round[], neighbouring: Neighbouring, delta: number, errorTarget: number, maxGrid: number): { upper: number; lower: number } {
  const n = rounds.reduce((acc, r) => acc + r.count, 0);
  const logInvEta = -Math.log(HOEFFDING_SHARE * delta);
  const logRoundTail = Math.log((TAIL_SHARE * delta) / n);
  const logWindowTail = Math.log(WINDOW_SHARE * delta);
  const losses = rounds.map((r) => {
    const loss = sampledGaussianLoss(r.samplingRate, r.noiseMultiplier, neighbouring);
    return { loss, count: r.count, range: support(loss, logRoundTail) };
  });
  const discretise = (step: number): Part[] => losses.map(({ loss, count, range }) => ({ pld: connectTheDots(loss, range[0], range[1], step), count }));

  const pilotStep = Math.max(...losses.map(({ range }) => range[1] - range[0])) / PILOT_POINTS;
  const { lo, hi, lambdaLo, lambdaHi } = chernoffWindow(discretise(pilotStep), logWindowTail);
  const margin = 0.02 * (hi - lo) + 4 * pilotStep;
  const width = hi - lo + 2 * margin;
  const size = Math.min(maxGrid, Math.max(MIN_GRID, nextPowerOfTwo(width / stepForError(n, COUPLING_SHARE * errorTarget, logInvEta) + 2)));
  const step = width / (size - 2);
  const start = Math.floor((lo - margin) / step);

  const parts = discretise(step);
  const masses = composeOnWindow(parts, start, size);
  // Mass the window cannot hold, at the pilot's best exponents (any λ > 0 gives a valid bound).
  const tailAbove = Math.exp(cumulant(parts, lambdaHi) - lambdaHi * (start + size) * step);
  const tailBelow = Math.exp(cumulant(parts, -lambdaLo) + lambdaLo * (start - 1) * step);
  const infinityMass = -Math.expm1(parts.reduce((acc, { pld, count }) => acc + count * Math.log1p(-pld.infinityMass), 0));
  // P-mass a round's grid moved: below its first point (lumped up) or above its last (sent to +∞).
  const truncated = parts.reduce((acc, { pld, count }, i) => {
    const { loss } = losses[i];
    const top = (pld.offset + pld.masses.length - 1) * step;
    return acc + count * (Math.exp(loss.logCdf(pld.offset * step)) + Math.exp(loss.logSurvival(top)));
  }, 0);

  const upper = epsilonForDelta(masses, start, step, infinityMass, delta - tailAbove);
  const slack = HOEFFDING_SHARE * delta + truncated + tailBelow;
  const lower = epsilonForDelta(masses, start, step, infinityMass, delta + slack) - couplingError(n, step, logInvEta);
  // A NaN here is a numerical failure: never let it pass as ε = 0.
  if (Number.isNaN(upper) || Number.isNaN(lower)) throw new Error(`PRV accountant failed numerically (${neighbouring}, step ${step})`);
  return { upper, lower: Math.max(0, lower) };
}

/** ε at `delta` of a sequence of Poisson-subsampled Gaussian rounds by the PRV accountant (see the file comment). */
export function prvEpsilon(records: readonly RoundRecord[], delta: number, options: PrvOptions = {}): PrvResult {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  const errorTarget = options.epsilonErrorTarget ?? DEFAULT_ERROR_TARGET;
  if (!(errorTarget > 0 && errorTarget < Infinity)) throw new RangeError(`epsilonErrorTarget must be finite and > 0, got ${errorTarget}`);
  const maxGrid = options.maxGridSize ?? DEFAULT_MAX_GRID;
  if (!(maxGrid >= MIN_GRID && nextPowerOfTwo(maxGrid) === maxGrid)) {
    throw new RangeError(`maxGridSize must be a power of two >= ${MIN_GRID}, got ${maxGrid}`);
  }
  const rounds = groupRounds(records);
  if (rounds.length === 0) return { epsilon: 0, epsilonError: 0, accountant: 'prv' };
  if (rounds.some((r) => r.noiseMultiplier === 0)) return { epsilon: Infinity, epsilonError: 0, accountant: 'prv' };
  const bounds = (['remove', 'add'] as const).map((nb) => directionBounds(rounds, nb, delta, errorTarget, maxGrid));
  const epsilon = Math.max(...bounds.map((b) => b.upper));
  return { epsilon, epsilonError: epsilon - Math.max(...bounds.map((b) => b.lower)), accountant: 'prv' };
}
