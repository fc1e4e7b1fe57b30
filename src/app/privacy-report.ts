/**
 * The Privacy screen's numbers, read from the participant's ledger with the same functions (and
 * the same accountant and δ) as `covey privacy ledger`, so the two always agree.
 */
import { readFile } from 'node:fs/promises';
import { LedgerEntrySchema, ledgerEpsilon, ledgerTable, type Accountant, type LedgerEntry } from '../core/privacy/index.js';
import { ledgerPath } from '../core/privacy/ledger-file.js';
import type { RoundSettings } from '../core/protocol/messages.js';
import { wireEpsilon } from './accountant.js';
import type { AppState, PrivacyCap, PrivacyReport } from './contract.js';

/**
 * The ledger's entries, read without changing the file: the federation client may be appending
 * to it in this same process, so a last line without its newline is an append in flight (or a
 * torn one, which the client cuts off when it next opens the file) and is left out here.
 */
export async function readLedger(stateDir: string, serverFingerprint: string): Promise<LedgerEntry[]> {
  let text: string;
  try {
    text = await readFile(ledgerPath(stateDir, serverFingerprint), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => LedgerEntrySchema.parse(JSON.parse(line)));
}

/** δ as `covey privacy ledger` takes it: the first consent's, else the declared one. */
export function ledgerDelta(entries: readonly LedgerEntry[], fallback: number): number {
  const consent = entries.find((e) => e.kind === 'consent');
  return consent?.kind === 'consent' ? consent.delta : fallback;
}

function capValue(values: { promised: number; worstCase: number }, cap: PrivacyCap): number {
  return cap.view === 'worst-case' ? values.worstCase : values.promised;
}

/** ε in both views after contributing to the next `k` rounds with the declared settings. */
export function projections(
  entries: readonly LedgerEntry[],
  next: { federationId: string; serverFingerprint: string; round: number; settings: RoundSettings },
  delta: number,
  cap: PrivacyCap | null,
  maxK: number,
  accountant: Accountant,
): PrivacyReport['projections'] {
  const out: PrivacyReport['projections'] = [];
  const extended: LedgerEntry[] = [...entries];
  const { dp, samplingRate } = next.settings;
  for (let k = 1; k <= maxK; k++) {
    extended.push({
      kind: 'contribution',
      federationId: next.federationId,
      timestamp: '',
      serverFingerprint: next.serverFingerprint,
      round: next.round + k - 1,
      mode: dp.mode,
      noiseMultiplier: dp.noiseMultiplier,
      clipNorm: dp.clipNorm,
      samplingRate,
      delta: dp.delta,
    });
    const values = {
      promised: ledgerEpsilon(extended, 'promised', delta, accountant),
      worstCase: ledgerEpsilon(extended, 'worst-case', delta, accountant),
    };
    out.push({
      k,
      promised: wireEpsilon(values.promised),
      worstCase: wireEpsilon(values.worstCase),
      withinCap: cap === null || capValue(values, cap) <= cap.epsilon,
    });
  }
  return out;
}

export function privacyReport(args: {
  federationId: string;
  serverFingerprint: string;
  entries: readonly LedgerEntry[];
  settings: RoundSettings;
  nextRound: number;
  remainingRounds: number;
  cap: PrivacyCap | null;
  accountant: Accountant;
}): PrivacyReport {
  const { entries, accountant } = args;
  const delta = ledgerDelta(entries, args.settings.dp.delta);
  const rows = ledgerTable(entries, delta, accountant).map((row) => ({
    round: row.round,
    kind: row.kind as PrivacyReport['rows'][number]['kind'],
    detail: row.detail,
    promised: wireEpsilon(row.promised),
    worstCase: wireEpsilon(row.worstCase),
  }));
  const ahead = projections(
    entries,
    { federationId: args.federationId, serverFingerprint: args.serverFingerprint, round: args.nextRound, settings: args.settings },
    delta,
    args.cap,
    Math.max(1, Math.min(args.remainingRounds, 50)),
    accountant,
  );
  return {
    federationId: args.federationId,
    delta,
    accountant: accountant.name,
    promised: wireEpsilon(ledgerEpsilon(entries, 'promised', delta, accountant)),
    worstCase: wireEpsilon(ledgerEpsilon(entries, 'worst-case', delta, accountant)),
    cap: args.cap,
    rows,
    projections: ahead,
    nextRoundAllowed: ahead[0]?.withinCap ?? true,
  };
}

/** The Training screen's privacy line: both ε views of the ledger at its δ; null before its first entry. */
export function ledgerSummary(entries: readonly LedgerEntry[], federationDelta: number, accountant: Accountant): AppState['privacy'] {
  if (entries.length === 0) return null;
  const delta = ledgerDelta(entries, federationDelta);
  return {
    promised: wireEpsilon(ledgerEpsilon(entries, 'promised', delta, accountant)),
    worstCase: wireEpsilon(ledgerEpsilon(entries, 'worst-case', delta, accountant)),
    delta,
    ledgerEntries: entries.length,
  };
}
