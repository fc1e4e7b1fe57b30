import { open, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { isLegacyLedgerName, LedgerError, LedgerFile, ledgerPath, listLedgers } from './ledger-file.js';
import type { LedgerEntry } from './ledger.js';

/**
 * Ledgers written before they were keyed by server fingerprint (`ledger/<federationId>.jsonl`) are
 * moved under the server fingerprint their consent names: entries of every legacy file of one
 * server are appended to its ledger (fsynced), then the legacy file is renamed `*.migrated`. A
 * crash between the two can only duplicate entries, which over-counts (records are keyed by
 * round and attempt, so most duplicates are charged once anyway), never under-counts. A legacy
 * file whose consent names no server is refused with a clear error and left untouched.
 */
export async function migrateLegacyLedgers(stateDir: string): Promise<void> {
  const dir = join(stateDir, 'ledger');
  let files: string[];
  try {
    files = (await readdir(dir)).filter(isLegacyLedgerName);
  } catch {
    return;
  }
  for (const file of files) {
    const path = join(dir, file);
    const legacy = await LedgerFile.open(path);
    const consent = legacy.entries.find((e) => e.kind === 'consent');
    const fingerprint = consent?.kind === 'consent' ? consent.serverFingerprint : null;
    if (!fingerprint || !/^[0-9a-f]{64}$/.test(fingerprint)) {
      throw new LedgerError(
        path,
        'an old ledger without a consent naming its server key: cannot tell which server it belongs to; move it out of the ledger folder to continue',
      );
    }
    const lines = legacy.entries.map((e) => JSON.stringify(e) + '\n').join('');
    const handle = await open(ledgerPath(stateDir, fingerprint), 'a', 0o600);
    try {
      await handle.write(lines);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(path, `${path}.migrated`);
  }
}

/** The ledger for one server key, after migrating any legacy ledgers in the folder. */
export async function openServerLedger(stateDir: string, serverFingerprint: string): Promise<LedgerFile> {
  await migrateLegacyLedgers(stateDir);
  return LedgerFile.open(ledgerPath(stateDir, serverFingerprint));
}

/** Every ledger in the folder whose consent was given on data with this digest (the participant-wide cap's scope). */
export async function ledgersOnData(stateDir: string, dataDigest: string): Promise<LedgerEntry[][]> {
  const out: LedgerEntry[][] = [];
  for (const fingerprint of await listLedgers(stateDir)) {
    const entries = (await LedgerFile.open(ledgerPath(stateDir, fingerprint))).entries;
    if (entries.some((e) => e.kind === 'consent' && e.dataDigest === dataDigest)) out.push([...entries]);
  }
  return out;
}
