/**
 * Privacy accountant benchmark: wall time of one ε for T = 10⁴ rounds (q = 0.01, z = 1, δ = 1e-5) by RDP and
 * by PRV — the first (cold: PRV builds its FFT plan then) and the median of `runs` more — and the table of ε
 * for z ∈ {0.8, 1, 1.5}, q ∈ {0.01, 0.1}, T ∈ {100, 1000} at δ = 1e-5 by both accountants.
 *
 *   npx tsx bench/run.ts accountant
 */
import { ACCOUNTANTS, epsilonFor, type AccountantName, type EpsilonResult } from '../src/core/privacy/index.js';
import { summarize, type Summary } from './pipeline.js';

const TIMED = { noiseMultiplier: 1, samplingRate: 0.01, rounds: 10_000 };
const DELTA = 1e-5;
const TABLE = { noiseMultiplier: [0.8, 1, 1.5], samplingRate: [0.01, 0.1], rounds: [100, 1000] };

export interface AccountantTiming extends EpsilonResult {
  coldMs: number;
  /** Milliseconds per ε over the warm runs. */
  ms: Summary;
}

export interface AccountantRow {
  noiseMultiplier: number;
  samplingRate: number;
  rounds: number;
  delta: number;
  rdp: { epsilon: number; order?: number };
  prv: { epsilon: number; epsilonError?: number };
}

export interface AccountantBenchResult {
  timing: { setting: typeof TIMED & { delta: number }; runs: number } & Record<AccountantName, AccountantTiming>;
  table: AccountantRow[];
}

function time(accountant: AccountantName, runs: number): AccountantTiming {
  const once = () => {
    const t0 = performance.now();
    const result = epsilonFor([TIMED], DELTA, accountant);
    return { result, ms: performance.now() - t0 };
  };
  const cold = once();
  const warm = Array.from({ length: runs }, once);
  return { ...cold.result, coldMs: Math.round(cold.ms * 100) / 100, ms: summarize(warm.map((w) => w.ms)) };
}

export function runAccountantBench(opts: { runs?: number; log?: (line: string) => void } = {}): AccountantBenchResult {
  const runs = opts.runs ?? 7;
  if (!Number.isInteger(runs) || runs < 5) throw new RangeError(`runs must be an integer >= 5, got ${runs}`);
  const [rdp, prv] = ACCOUNTANTS.map((accountant) => {
    const t = time(accountant, runs);
    opts.log?.(`accountant: ${accountant} ε = ${t.epsilon.toFixed(4)} at T = ${TIMED.rounds}, median ${t.ms.median} ms (cold ${t.coldMs} ms)`);
    return t;
  });
  const table = TABLE.noiseMultiplier.flatMap((noiseMultiplier) =>
    TABLE.samplingRate.flatMap((samplingRate) =>
      TABLE.rounds.map((rounds): AccountantRow => {
        const records = [{ noiseMultiplier, samplingRate, rounds }];
        const r = epsilonFor(records, DELTA, 'rdp');
        const p = epsilonFor(records, DELTA, 'prv');
        return {
          noiseMultiplier,
          samplingRate,
          rounds,
          delta: DELTA,
          rdp: { epsilon: r.epsilon, order: r.order },
          prv: { epsilon: p.epsilon, epsilonError: p.epsilonError },
        };
      }),
    ),
  );
  return { timing: { setting: { ...TIMED, delta: DELTA }, runs, rdp, prv }, table };
}
