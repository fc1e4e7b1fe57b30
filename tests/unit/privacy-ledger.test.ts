import { mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  computeEpsilon,
  LedgerError,
  LedgerFile,
  ledgerEpsilon,
  ledgerPath,
  ledgerTable,
  projectedEpsilon,
  type LedgerEntry,
} from '../../src/core/privacy/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const common = { federationId: 'f', timestamp: '2026-11-29T00:00:00Z' };
function contribution(round: number, z = 2, q = 0.1, mode: 'central' | 'local' | 'off' = 'central'): LedgerEntry {
  return { kind: 'contribution', ...common, serverFingerprint: 'ab', round, mode, noiseMultiplier: z, clipNorm: 1, samplingRate: q, delta: 1e-5 };
}
function observed(round: number, z = 2, q = 0.1): LedgerEntry {
  return { kind: 'observed', ...common, round, mode: 'central', noiseMultiplier: z, samplingRate: q };
}

describe('ledger views', () => {
  it('worst case is q = 1 over only the contributed rounds; promised uses the declared q over all rounds', () => {
    const entries = [contribution(1), observed(2), contribution(3), observed(4), observed(5)];
    const worst = ledgerEpsilon(entries, 'worst-case', 1e-5);
    const promised = ledgerEpsilon(entries, 'promised', 1e-5);
    expect(worst).toBeCloseTo(computeEpsilon({ noiseMultiplier: 2, samplingRate: 1, rounds: 2, delta: 1e-5 }).epsilon, 12);
    expect(promised).toBeCloseTo(computeEpsilon({ noiseMultiplier: 2, samplingRate: 0.1, rounds: 5, delta: 1e-5 }).epsilon, 12);
    expect(promised).toBeLessThan(worst);
  });

  it('counts a round once however often it was written, and an empty ledger costs nothing', () => {
    const once = ledgerEpsilon([contribution(1), contribution(2)], 'worst-case', 1e-5);
    const twice = ledgerEpsilon([contribution(1), contribution(1), contribution(2), observed(2)], 'worst-case', 1e-5);
    expect(twice).toBe(once);
    expect(ledgerEpsilon([], 'worst-case', 1e-5)).toBe(0);
  });

  it('an update sent without noise makes ε infinite; a round observed without DP costs nothing', () => {
    expect(ledgerEpsilon([contribution(1), contribution(2, 0, 1, 'off')], 'worst-case', 1e-5)).toBe(Infinity);
    const offObserved: LedgerEntry = { kind: 'observed', ...common, round: 3, mode: 'off', noiseMultiplier: 0, samplingRate: 1 };
    expect(ledgerEpsilon([contribution(1), offObserved], 'promised', 1e-5)).toBe(ledgerEpsilon([contribution(1)], 'promised', 1e-5));
  });

  it('projects both views for the next round and tabulates cumulative ε per round', () => {
    const entries = [contribution(1), observed(2)];
    const next = projectedEpsilon(entries, { federationId: 'f', serverFingerprint: 'ab', round: 3, mode: 'central', noiseMultiplier: 2, clipNorm: 1, samplingRate: 0.1, delta: 1e-5 });
    expect(next.worstCase).toBeCloseTo(computeEpsilon({ noiseMultiplier: 2, samplingRate: 1, rounds: 2, delta: 1e-5 }).epsilon, 12);
    expect(next.promised).toBeCloseTo(computeEpsilon({ noiseMultiplier: 2, samplingRate: 0.1, rounds: 3, delta: 1e-5 }).epsilon, 12);
    const rows = ledgerTable(entries, 1e-5);
    expect(rows.map((r) => r.round)).toEqual([1, 2]);
    expect(rows[1].promised).toBeGreaterThan(rows[0].promised);
    expect(rows[1].worstCase).toBe(rows[0].worstCase);
  });
});

describe('ledger file', () => {
  it('appends durably, reloads the same entries, and cuts a torn last line left by a crash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covey-ledger-'));
    dirs.push(dir);
    const path = ledgerPath(dir, 'f');
    const ledger = await LedgerFile.open(path);
    await ledger.append(contribution(1));
    await ledger.append(observed(2));
    expect((await LedgerFile.open(path)).entries).toEqual([contribution(1), observed(2)]);
    await appendFile(path, '{"kind":"contribution","federat'); // crash mid-write
    const reopened = await LedgerFile.open(path);
    expect(reopened.entries).toHaveLength(2);
    await reopened.append(contribution(3));
    const text = await readFile(path, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(3);
    expect((await LedgerFile.open(path)).entries.map((e) => (e as { round: number }).round)).toEqual([1, 2, 3]);
  });

  it('refuses a ledger with a corrupt line in the middle instead of dropping it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covey-ledger-'));
    dirs.push(dir);
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, `${JSON.stringify(contribution(1))}\nnot json\n${JSON.stringify(contribution(2))}\n`);
    await expect(LedgerFile.open(path)).rejects.toThrow(LedgerError);
    await expect(LedgerFile.open(path)).rejects.toThrow(/line 2/);
  });
});
