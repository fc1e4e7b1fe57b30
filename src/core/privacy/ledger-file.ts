import { mkdir, open, readFile, readdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { LedgerEntrySchema, type LedgerEntry } from './ledger.js';

export class LedgerError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'LedgerError';
  }
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

/**
 * Where the ledger for one server key lives inside a participant's state folder: keyed by the
 * invite's server fingerprint (hex), never by the server-chosen federation id, so the same server
 * key under a new federation id finds the same ledger and the same cap.
 */
export function ledgerPath(stateDir: string, serverFingerprint: string): string {
  if (!FINGERPRINT.test(serverFingerprint)) throw new TypeError(`a ledger is keyed by a 64-hex server fingerprint, not "${serverFingerprint}"`);
  return join(stateDir, 'ledger', `${serverFingerprint}.jsonl`);
}

/** True for a ledger file name written before ledgers were keyed by server fingerprint. */
export function isLegacyLedgerName(file: string): boolean {
  return file.endsWith('.jsonl') && !FINGERPRINT.test(file.slice(0, -'.jsonl'.length));
}

/**
 * Append-only JSON-lines ledger. Each append is written and fsynced before it resolves, so an
 * entry the caller awaited survives a crash. A torn last line (a crash mid-write) is cut off on
 * opening; any other unreadable line is an error, never silently dropped.
 */
export class LedgerFile {
  private constructor(
    readonly path: string,
    private readonly loaded: LedgerEntry[],
  ) {}

  static async open(path: string): Promise<LedgerFile> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new LedgerError(path, `cannot read: ${(err as Error).message}`);
    }
    const complete = text.lastIndexOf('\n') + 1;
    if (complete < text.length) {
      // A crash cut the last append short. Its update was never sent (sending waits for the
      // append), so the partial line is dropped from the file before anything is appended.
      await truncate(path, Buffer.byteLength(text.slice(0, complete)));
      text = text.slice(0, complete);
    }
    const entries: LedgerEntry[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        entries.push(LedgerEntrySchema.parse(JSON.parse(line)));
      } catch (err) {
        throw new LedgerError(path, `line ${i + 1} is not a ledger entry (${(err as Error).message.slice(0, 120)})`);
      }
    });
    return new LedgerFile(path, entries);
  }

  get entries(): readonly LedgerEntry[] {
    return this.loaded;
  }

  async append(entry: LedgerEntry): Promise<void> {
    const line = JSON.stringify(LedgerEntrySchema.parse(entry)) + '\n';
    await mkdir(join(this.path, '..'), { recursive: true, mode: 0o700 });
    const handle = await open(this.path, 'a', 0o600);
    try {
      await handle.write(line);
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.loaded.push(entry);
  }
}

/** Server fingerprints that have a ledger in this state folder. */
export async function listLedgers(stateDir: string): Promise<string[]> {
  try {
    return (await readdir(join(stateDir, 'ledger'))).filter((f) => f.endsWith('.jsonl') && !isLegacyLedgerName(f)).map((f) => f.slice(0, -'.jsonl'.length));
  } catch {
    return [];
  }
}
