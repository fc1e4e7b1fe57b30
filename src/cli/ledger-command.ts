import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import {
  accountant as accountantNamed,
  ACCOUNTANTS,
  DEFAULT_ACCOUNTANT,
  ledgerEpsilon,
  ledgerTable,
  type AccountantName,
  type LedgerEntry,
} from '../core/privacy/index.js';
import { LedgerFile, ledgerPath, listLedgers } from '../core/privacy/ledger-file.js';
import { migrateLegacyLedgers } from '../core/privacy/participant-ledgers.js';

interface LedgerOptions {
  server?: string;
  federation?: string;
  stateDir: string;
  accountant: AccountantName;
  json?: boolean;
}

/** `covey privacy ledger`: what this participant sent, and ε in both views, per round and cumulative. */
export function registerLedgerCommand(privacy: Command): void {
  privacy
    .command('ledger')
    .description("this participant's privacy ledger: per round and cumulative ε, promised and worst case")
    .option('--server <fingerprint>', "one server key's ledger, by its 64-hex fingerprint (default: every ledger here)")
    .option('--federation <id>', 'the ledgers that hold this federation id (a label inside a server key’s ledger)')
    .option('--state-dir <dir>', 'the participant state folder used with covey join', join(homedir(), '.covey'))
    .addOption(new Option('--accountant <name>', 'prv (tight upper bound) or rdp').choices(ACCOUNTANTS).default(DEFAULT_ACCOUNTANT.name))
    .option('--json', 'print JSON')
    .action(async (opts: LedgerOptions) => {
      await migrateLegacyLedgers(opts.stateDir);
      const ids = opts.server ? [opts.server] : await listLedgers(opts.stateDir);
      const reports = [];
      for (const id of ids) {
        const ledger = await LedgerFile.open(ledgerPath(opts.stateDir, id));
        if (ledger.entries.length === 0) throw new Error(`no ledger for server ${id} in ${opts.stateDir}`);
        if (opts.federation && !ledger.entries.some((e) => e.federationId === opts.federation)) continue;
        reports.push(report(id, ledger.entries, opts.accountant));
      }
      if (reports.length === 0)
        throw new Error(`no privacy ledger${opts.federation ? ` for federation ${opts.federation}` : ''} in ${opts.stateDir} (join a federation first)`);
      if (opts.json) {
        process.stdout.write(JSON.stringify(reports.length === 1 ? reports[0] : reports, (_k, v: unknown) => (v === Infinity ? null : v)) + '\n');
        return;
      }
      for (const r of reports) process.stdout.write(render(r));
    });
}

function report(serverFingerprint: string, entries: readonly LedgerEntry[], name: AccountantName) {
  const consent = entries.find((e) => e.kind === 'consent');
  // The federation id is a label the server chose; the ledger (and the cap) belong to the server key.
  const federationIds = [...new Set(entries.map((e) => e.federationId))];
  const delta = consent?.kind === 'consent' ? consent.delta : 1e-5;
  const accountant = accountantNamed(name);
  return {
    serverFingerprint,
    federationIds,
    delta,
    accountant: name,
    consent: consent ?? null,
    contributions: entries.filter((e) => e.kind === 'contribution').length,
    declined: entries.filter((e) => e.kind === 'declined').length,
    promised: ledgerEpsilon(entries, 'promised', delta, accountant),
    worstCase: ledgerEpsilon(entries, 'worst-case', delta, accountant),
    rounds: ledgerTable(entries, delta, accountant),
  };
}

function fmt(epsilon: number): string {
  return Number.isFinite(epsilon) ? epsilon.toFixed(4) : '∞';
}

function render(r: ReturnType<typeof report>): string {
  const lines = [
    `server ${r.serverFingerprint.slice(0, 16)}…, federation ${r.federationIds.join(', ')}  (δ = ${r.delta}, ${r.accountant} accountant)`,
    r.consent?.kind === 'consent'
      ? `  consented to: DP ${r.consent.mode}, z=${r.consent.noiseMultiplier}, C=${r.consent.clipNorm}, q=${r.consent.samplingRate}` +
        (r.consent.cap ? `; cap ε ≤ ${r.consent.cap.epsilon} (${r.consent.cap.view})` : '; no cap')
      : '  no consent recorded',
    `  ${'round'.padStart(5)}  ${'what'.padEnd(42)}  ${'promised ε'.padStart(10)}  ${'worst-case ε'.padStart(12)}`,
    ...r.rounds.map(
      (row) => `  ${String(row.round).padStart(5)}  ${row.detail.padEnd(42)}  ${fmt(row.promised).padStart(10)}  ${fmt(row.worstCase).padStart(12)}`,
    ),
    `  total: ${r.contributions} contributions, ${r.declined} declined; ε promised ${fmt(r.promised)}, worst case ${fmt(r.worstCase)}`,
    '',
  ];
  return lines.join('\n') + '\n';
}
