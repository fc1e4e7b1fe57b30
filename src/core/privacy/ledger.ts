import { z } from 'zod';
import { DEFAULT_ACCOUNTANT, type Accountant } from './accountant.js';
import type { RoundRecord } from './rdp.js';
import { DpModeSchema } from '../protocol/messages.js';

/**
 * The participant's privacy ledger: what this client actually sent, per server key (the invite's
 * fingerprint; the federation id is only a label inside it). Two views:
 * - promised: amplified by the sampling rate q, one record per attempt the server announced to
 *   this client while it was connected (selected or not), each with that announcement's own
 *   (z, q); the announcement is the charge, written before any result (the server's sampling
 *   population is exactly the members connected at draw time, who all receive it);
 * - worst case: q = 1 over only the rounds this client contributed to (it cannot verify q).
 * Neither takes an ε figure from the server: both are computed here from the declared z and q.
 * Every mode with noise is accounted the same way from (z, q): central and distributed rounds with the full z
 * (distributed: under the stated assumption that at least t honest clients added their share z·C/√t — the sum
 * of their discrete Gaussians is then within τ ≈ 0 of one with the full noise, see discrete-gaussian.ts), local
 * rounds with the client's own z. Entries written before distributed mode lack its optional fields and still parse.
 */
const base = {
  federationId: z.string().min(1),
  timestamp: z.string(),
};
const mode = DpModeSchema;
/** Distributed mode: the fewest survivors (masked inputs in the sum) the round accepts; each client's share is z·C/√t. */
const survivorThreshold = z.number().int().min(1).optional();
/** Whether updates went through secure aggregation (the server saw only the sum), rather than sealed to the server. */
const secureAggregation = z.boolean().optional();

/** The round settings a participant agrees to, and records with each contribution. */
const settings = {
  mode,
  noiseMultiplier: z.number(),
  clipNorm: z.number(),
  samplingRate: z.number(),
  delta: z.number(),
  survivorThreshold,
  secureAggregation,
  /** The expected cohort size (fixed DP denominator) declared with these settings; older entries lack it. */
  expectedClients: z.number().positive().optional(),
};

export const LedgerEntrySchema = z.discriminatedUnion('kind', [
  /** The settings the participant agreed to, and the cap it set. */
  z.object({
    kind: z.literal('consent'),
    ...base,
    serverFingerprint: z.string(),
    ...settings,
    cap: z.object({ epsilon: z.number().positive(), view: z.enum(['worst-case', 'promised']) }).nullable(),
    /** Digest of the data this participant trains on (participant-wide cap: data-identity.ts); older entries lack it. */
    dataDigest: z.string().optional(),
  }),
  /**
   * One attempt the server announced (signed) to this client while it was connected: charged in the
   * promised view with these settings whether the client was selected, and whether the attempt was
   * released or aborted. Keyed by (round, attemptId): a re-sent announcement is charged once.
   */
  z.object({
    kind: z.literal('announced'),
    ...base,
    round: z.number().int().min(1),
    attemptId: z.string(),
    ...settings,
  }),
  /** Written and flushed before the update leaves the machine: a crash can over-count, never under-count. */
  z.object({
    kind: z.literal('contribution'),
    ...base,
    serverFingerprint: z.string(),
    round: z.number().int().min(1),
    /** Each attempt at a round is a separate release to the server, even if the round was then re-run. */
    attemptId: z.string().optional(),
    ...settings,
  }),
  /** Written by ledgers before announcements: a released round this client was connected for but did not contribute to. */
  z.object({
    kind: z.literal('observed'),
    ...base,
    round: z.number().int().min(1),
    mode,
    noiseMultiplier: z.number(),
    samplingRate: z.number(),
    survivorThreshold,
    secureAggregation,
  }),
  z.object({
    kind: z.literal('declined'),
    ...base,
    round: z.number().int().min(1),
    reason: z.enum(['budget', 'consent']),
    message: z.string(),
  }),
]);
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;
export type LedgerView = 'promised' | 'worst-case';
export type Contribution = Extract<LedgerEntry, { kind: 'contribution' }>;

function records(entries: readonly LedgerEntry[], view: LedgerView): RoundRecord[] | null {
  const out: RoundRecord[] = [];
  const seen = new Set<string>();
  const announced = new Set(entries.filter((e) => e.kind === 'announced').map((e) => `${e.round}/${e.attemptId}`));
  const chargedRounds = new Set(entries.filter((e) => e.kind === 'contribution' || e.kind === 'announced').map((e) => e.round));
  for (const e of entries) {
    if (e.kind === 'consent' || e.kind === 'declined') continue;
    if (view === 'worst-case' && e.kind !== 'contribution') continue;
    if (e.kind === 'contribution' && (e.mode === 'off' || e.noiseMultiplier === 0)) return null;
    // One record per attempt (re-sends count once). In the promised view an announced attempt is
    // charged by its announcement, so a contribution to it adds nothing; a legacy observed round
    // adds nothing when the round is otherwise charged.
    const key = e.kind === 'observed' ? `${e.round}/observed` : `${e.round}/${e.attemptId ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (view === 'promised' && e.kind === 'contribution' && announced.has(key)) continue;
    if (e.kind === 'observed' && chargedRounds.has(e.round)) continue;
    if (e.mode === 'off') continue; // a round without DP that this client did not send to did not use its data
    out.push({ noiseMultiplier: e.noiseMultiplier, samplingRate: view === 'worst-case' ? 1 : e.samplingRate });
  }
  return out;
}

/** ε of one view over the given entries (one federation's); Infinity if an update went without noise. */
export function ledgerEpsilon(entries: readonly LedgerEntry[], view: LedgerView, delta: number, accountant: Accountant = DEFAULT_ACCOUNTANT): number {
  const recs = records(entries, view);
  return recs === null ? Number.POSITIVE_INFINITY : accountant.epsilon(recs, delta);
}

/**
 * ε of one view over several ledgers on the same data (a participant-wide cap): each ledger's
 * records, concatenated; composition holds across federations as within one (the records add up
 * order by order, Mironov 2017 Prop. 1). Infinity if any update went without noise.
 */
export function combinedEpsilon(
  ledgers: readonly (readonly LedgerEntry[])[],
  view: LedgerView,
  delta: number,
  accountant: Accountant = DEFAULT_ACCOUNTANT,
): number {
  const all: RoundRecord[] = [];
  for (const entries of ledgers) {
    const recs = records(entries, view);
    if (recs === null) return Number.POSITIVE_INFINITY;
    all.push(...recs);
  }
  return accountant.epsilon(all, delta);
}

/** Both views as they would stand if this client also contributed to `round` with these settings. */
export function projectedEpsilon(
  entries: readonly LedgerEntry[],
  next: Omit<Contribution, 'kind' | 'timestamp'>,
  accountant: Accountant = DEFAULT_ACCOUNTANT,
): { promised: number; worstCase: number } {
  const withNext: LedgerEntry[] = [...entries, { kind: 'contribution', timestamp: '', ...next }];
  return {
    promised: ledgerEpsilon(withNext, 'promised', next.delta, accountant),
    worstCase: ledgerEpsilon(withNext, 'worst-case', next.delta, accountant),
  };
}

/** `distributed z=1.1 C=1 t=8 q=0.1 secure aggregation`: t only in distributed mode ("t=?" if not recorded). */
function contributionDetail(e: Contribution): string {
  const t = e.mode === 'distributed' ? ` t=${e.survivorThreshold ?? '?'}` : '';
  const secAgg = e.secureAggregation === true ? ' secure aggregation' : '';
  return `${e.mode} z=${e.noiseMultiplier} C=${e.clipNorm}${t} q=${e.samplingRate}${secAgg}`;
}

/** Per-round rows with cumulative ε in both views, for `covey privacy ledger` and the app. */
export function ledgerTable(entries: readonly LedgerEntry[], delta: number, accountant: Accountant = DEFAULT_ACCOUNTANT) {
  const rows: { round: number; kind: LedgerEntry['kind']; detail: string; promised: number; worstCase: number }[] = [];
  const upTo: LedgerEntry[] = [];
  // An attempt this client contributed to shows once, as its contribution (its announcement is charged in the row all the same).
  const contributed = new Set(entries.filter((e) => e.kind === 'contribution').map((e) => `${e.round}/${e.attemptId ?? ''}`));
  for (const e of entries) {
    upTo.push(e);
    if (e.kind === 'consent') continue;
    if (e.kind === 'announced' && contributed.has(`${e.round}/${e.attemptId}`)) continue;
    const detail =
      e.kind === 'contribution'
        ? contributionDetail(e)
        : e.kind === 'observed'
          ? `not selected (q=${e.samplingRate})`
          : e.kind === 'announced'
            ? `announced: ${e.mode} z=${e.noiseMultiplier} q=${e.samplingRate}`
            : `declined: ${e.reason}`;
    rows.push({
      round: e.round,
      kind: e.kind,
      detail,
      promised: ledgerEpsilon(upTo, 'promised', delta, accountant),
      worstCase: ledgerEpsilon(upTo, 'worst-case', delta, accountant),
    });
  }
  return rows;
}
