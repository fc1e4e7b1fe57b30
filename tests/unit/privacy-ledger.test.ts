import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  accountant,
  computeEpsilon,
  LedgerEntrySchema,
  ledgerEpsilon,
  ledgerTable,
  projectedEpsilon,
  type Contribution,
  type LedgerEntry,
} from '../../src/core/privacy/index.js';
import { LedgerError, LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';

const RDP = accountant('rdp');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const common = { federationId: 'f', timestamp: '2026-11-29T00:00:00Z' };
function contribution(round: number, z = 2, q = 0.1, mode: 'central' | 'local' | 'off' | 'distributed' = 'central'): LedgerEntry {
  return { kind: 'contribution', ...common, serverFingerprint: 'ab', round, mode, noiseMultiplier: z, clipNorm: 1, samplingRate: q, delta: 1e-5 };
}
function observed(round: number, z = 2, q = 0.1): LedgerEntry {
  return { kind: 'observed', ...common, round, mode: 'central', noiseMultiplier: z, samplingRate: q };
}

describe('ledger views', () => {
  it('worst case is q = 1 over only the contributed rounds; promised uses the declared q over all rounds', () => {
    const entries = [contribution(1), observed(2), contribution(3), observed(4), observed(5)];
    const worst = ledgerEpsilon(entries, 'worst-case', 1e-5, RDP);
    const promised = ledgerEpsilon(entries, 'promised', 1e-5, RDP);
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
    const next = projectedEpsilon(
      entries,
      { federationId: 'f', serverFingerprint: 'ab', round: 3, mode: 'central', noiseMultiplier: 2, clipNorm: 1, samplingRate: 0.1, delta: 1e-5 },
      RDP,
    );
    expect(next.worstCase).toBeCloseTo(computeEpsilon({ noiseMultiplier: 2, samplingRate: 1, rounds: 2, delta: 1e-5 }).epsilon, 12);
    expect(next.promised).toBeCloseTo(computeEpsilon({ noiseMultiplier: 2, samplingRate: 0.1, rounds: 3, delta: 1e-5 }).epsilon, 12);
    const rows = ledgerTable(entries, 1e-5);
    expect(rows.map((r) => r.round)).toEqual([1, 2]);
    expect(rows[1].promised).toBeGreaterThan(rows[0].promised);
    expect(rows[1].worstCase).toBe(rows[0].worstCase);
  });
});

describe('distributed mode in the ledger', () => {
  const t = 8;
  function distributed(round: number, z = 2, q = 0.1, extra: Partial<Contribution> = { survivorThreshold: t, secureAggregation: true }): LedgerEntry {
    return { ...(contribution(round, z, q, 'distributed') as Contribution), ...extra };
  }
  function observedDistributed(round: number, z = 2, q = 0.1): LedgerEntry {
    return { kind: 'observed', ...common, round, mode: 'distributed', noiseMultiplier: z, samplingRate: q, survivorThreshold: t, secureAggregation: true };
  }

  it('costs what a central ledger with the same z and q costs, in both views (full z, q as declared / q = 1)', () => {
    const dist = [distributed(1), observedDistributed(2), distributed(3, 1.5, 0.2), observedDistributed(4)];
    const central = [contribution(1), observed(2), contribution(3, 1.5, 0.2), observed(4)];
    for (const view of ['promised', 'worst-case'] as const) {
      for (const acc of [undefined, RDP]) {
        const d = ledgerEpsilon(dist, view, 1e-5, acc);
        expect(Number.isFinite(d) && d > 0).toBe(true);
        expect(d).toBe(ledgerEpsilon(central, view, 1e-5, acc));
      }
    }
    const next = { federationId: 'f', serverFingerprint: 'ab', round: 5, noiseMultiplier: 2, clipNorm: 1, samplingRate: 0.1, delta: 1e-5 };
    expect(projectedEpsilon(dist, { ...next, mode: 'distributed', survivorThreshold: t, secureAggregation: true })).toEqual(
      projectedEpsilon(central, { ...next, mode: 'central' }),
    );
    // a distributed update sent without noise is still unbounded
    expect(ledgerEpsilon([distributed(1, 0)], 'worst-case', 1e-5)).toBe(Infinity);
  });

  it('tabulates distributed rounds with z, C, t, q and marks secure aggregation', () => {
    const rows = ledgerTable(
      [
        distributed(1),
        distributed(2, 2, 0.1, { survivorThreshold: t, secureAggregation: false }),
        distributed(3, 2, 0.1, {}),
        contribution(4),
        { ...(contribution(5) as Contribution), secureAggregation: true },
        observedDistributed(6),
      ],
      1e-5,
    );
    expect(rows.map((r) => r.detail)).toEqual([
      'distributed z=2 C=1 t=8 q=0.1 secure aggregation',
      'distributed z=2 C=1 t=8 q=0.1',
      'distributed z=2 C=1 t=? q=0.1',
      'central z=2 C=1 q=0.1',
      'central z=2 C=1 q=0.1 secure aggregation',
      'not selected (q=0.1)',
    ]);
  });

  it('the views default to the PRV accountant, tighter than RDP', () => {
    const entries = [contribution(1), observed(2), contribution(3)];
    const prv = accountant('prv');
    for (const view of ['promised', 'worst-case'] as const) {
      expect(ledgerEpsilon(entries, view, 1e-5)).toBe(ledgerEpsilon(entries, view, 1e-5, prv));
      expect(ledgerEpsilon(entries, view, 1e-5)).toBeLessThan(ledgerEpsilon(entries, view, 1e-5, RDP));
    }
    const rows = ledgerTable(entries, 1e-5);
    expect(rows.at(-1)!.worstCase).toBe(ledgerEpsilon(entries, 'worst-case', 1e-5, prv));
    const next = {
      federationId: 'f',
      serverFingerprint: 'ab',
      round: 4,
      mode: 'central' as const,
      noiseMultiplier: 2,
      clipNorm: 1,
      samplingRate: 0.1,
      delta: 1e-5,
    };
    expect(projectedEpsilon(entries, next)).toEqual(projectedEpsilon(entries, next, prv));
  });

  it('parses entries written before distributed mode (no survivorThreshold / secureAggregation) and checks the new fields', () => {
    const old = [
      '{"kind":"consent","federationId":"f","timestamp":"2026-01-01T00:00:00Z","serverFingerprint":"ab","mode":"central","noiseMultiplier":1.1,"clipNorm":1,"samplingRate":0.1,"delta":1e-5,"cap":{"epsilon":8,"view":"worst-case"}}',
      '{"kind":"contribution","federationId":"f","timestamp":"2026-01-01T00:01:00Z","serverFingerprint":"ab","round":1,"attemptId":"a1","mode":"central","noiseMultiplier":1.1,"clipNorm":1,"samplingRate":0.1,"delta":1e-5}',
      '{"kind":"observed","federationId":"f","timestamp":"2026-01-01T00:02:00Z","round":2,"mode":"local","noiseMultiplier":1.1,"samplingRate":0.1}',
      '{"kind":"declined","federationId":"f","timestamp":"2026-01-01T00:03:00Z","round":3,"reason":"budget","message":"over the cap"}',
    ];
    for (const line of old) {
      const entry = LedgerEntrySchema.parse(JSON.parse(line));
      expect(entry).toEqual(JSON.parse(line));
      expect('survivorThreshold' in entry).toBe(false);
    }
    const parsed = LedgerEntrySchema.parse(distributed(1));
    expect(parsed).toMatchObject({ mode: 'distributed', survivorThreshold: 8, secureAggregation: true });
    for (const bad of [{ survivorThreshold: 0 }, { survivorThreshold: 2.5 }, { secureAggregation: 'yes' }]) {
      expect(LedgerEntrySchema.safeParse({ ...distributed(1), ...bad }).success).toBe(false);
    }
    expect(LedgerEntrySchema.safeParse({ ...contribution(1), mode: 'shuffled' }).success).toBe(false);
  });

  it('a ledger file with old lines followed by distributed ones loads and keeps appending', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covey-ledger-'));
    dirs.push(dir);
    const path = ledgerPath(dir, 'f'.repeat(64));
    const oldLine =
      '{"kind":"contribution","federationId":"f","timestamp":"2026-01-01T00:01:00Z","serverFingerprint":"ab","round":1,"mode":"central","noiseMultiplier":2,"clipNorm":1,"samplingRate":0.1,"delta":1e-5}';
    await mkdir(join(dir, 'ledger'), { recursive: true });
    await writeFile(path, oldLine + '\n');
    const ledger = await LedgerFile.open(path);
    await ledger.append(distributed(2));
    const reopened = await LedgerFile.open(path);
    expect(reopened.entries).toEqual([JSON.parse(oldLine), distributed(2)]);
    expect(ledgerEpsilon(reopened.entries, 'worst-case', 1e-5)).toBe(ledgerEpsilon([contribution(1), contribution(2)], 'worst-case', 1e-5));
  });
});

describe('ledger file', () => {
  it('appends durably, reloads the same entries, and cuts a torn last line left by a crash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covey-ledger-'));
    dirs.push(dir);
    const path = ledgerPath(dir, 'f'.repeat(64));
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

describe('announced attempts (the promised view charges each with its own settings)', () => {
  const F = 'a'.repeat(64);
  function announced(round: number, attemptId: string, z = 2, q = 0.1): LedgerEntry {
    return {
      kind: 'announced',
      ...common,
      round,
      attemptId,
      mode: 'central',
      noiseMultiplier: z,
      clipNorm: 1,
      samplingRate: q,
      delta: 1e-5,
      expectedClients: 3,
    };
  }
  function sent(round: number, attemptId: string, z = 2, q = 0.1): LedgerEntry {
    return { ...(contribution(round, z, q) as Contribution), attemptId };
  }

  it('charges every announced attempt once, with its own z and q, and a contribution to it adds nothing more', () => {
    const entries = [announced(1, 'x'), sent(1, 'x'), announced(1, 'x'), announced(2, 'y', 1, 0.9), announced(2, 'z', 1, 0.9)];
    const promised = ledgerEpsilon(entries, 'promised', 1e-5, RDP);
    const expected = RDP.epsilon(
      [
        { noiseMultiplier: 2, samplingRate: 0.1 },
        { noiseMultiplier: 1, samplingRate: 0.9 },
        { noiseMultiplier: 1, samplingRate: 0.9 },
      ],
      1e-5,
    );
    expect(promised).toBeCloseTo(expected, 12);
    expect(ledgerEpsilon(entries, 'worst-case', 1e-5, RDP)).toBeCloseTo(RDP.epsilon([{ noiseMultiplier: 2, samplingRate: 1 }], 1e-5), 12);
    // The table shows a contributed attempt once, as the contribution.
    expect(ledgerTable(entries, 1e-5, RDP).map((r) => [r.round, r.kind])).toEqual([
      [1, 'contribution'],
      [2, 'announced'],
      [2, 'announced'],
    ]);
  });

  it('migrates per-federation ledgers of one server key into its ledger, and refuses one that names no server', async () => {
    const { migrateLegacyLedgers, openServerLedger } = await import('../../src/core/privacy/participant-ledgers.js');
    const dir = await mkdtemp(join(tmpdir(), 'covey-ledger-'));
    dirs.push(dir);
    await mkdir(join(dir, 'ledger'), { recursive: true });
    const consent = (federationId: string) => ({
      kind: 'consent',
      federationId,
      timestamp: common.timestamp,
      serverFingerprint: F,
      mode: 'central',
      noiseMultiplier: 2,
      clipNorm: 1,
      samplingRate: 0.1,
      delta: 1e-5,
      cap: null,
    });
    const line = (e: unknown) => JSON.stringify(e) + '\n';
    await writeFile(join(dir, 'ledger', 'fed-a.jsonl'), line(consent('fed-a')) + line({ ...contribution(1), federationId: 'fed-a', attemptId: 'p' }));
    await writeFile(join(dir, 'ledger', 'fed-b.jsonl'), line(consent('fed-b')) + line({ ...contribution(1), federationId: 'fed-b', attemptId: 'q' }));
    const ledger = await openServerLedger(dir, F);
    expect(ledger.path).toBe(ledgerPath(dir, F));
    expect(
      ledger.entries
        .filter((e) => e.kind === 'contribution')
        .map((e) => e.federationId)
        .sort(),
    ).toEqual(['fed-a', 'fed-b']);
    expect(ledgerEpsilon(ledger.entries, 'worst-case', 1e-5, RDP)).toBeCloseTo(
      RDP.epsilon(
        [
          { noiseMultiplier: 2, samplingRate: 1 },
          { noiseMultiplier: 2, samplingRate: 1 },
        ],
        1e-5,
      ),
      12,
    );
    expect((await readFile(join(dir, 'ledger', 'fed-a.jsonl.migrated'), 'utf8')).length).toBeGreaterThan(0);

    await writeFile(join(dir, 'ledger', 'orphan.jsonl'), line({ ...contribution(1), federationId: 'orphan' }));
    await expect(migrateLegacyLedgers(dir)).rejects.toThrow(/orphan\.jsonl: an old ledger without a consent naming its server key/);
    expect(await readFile(join(dir, 'ledger', 'orphan.jsonl'), 'utf8')).toContain('orphan');
  });
});
