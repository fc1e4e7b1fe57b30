import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FederationDb } from '../../server/db.js';

const dir = mkdtempSync(join(tmpdir(), 'covey-db-migration-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('database schema 1 → 2 (one accountant row per drawn attempt)', () => {
  it('turns each released round of a version-1 accountant into a charged attempt, and charges new draws after it', () => {
    const v1 = new Database(join(dir, 'covey.db'));
    v1.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1'), ('federation_id', 'old');
      CREATE TABLE rounds (round INTEGER PRIMARY KEY, completed_at TEXT NOT NULL, cohort TEXT NOT NULL, survivors TEXT NOT NULL, declined TEXT NOT NULL, result TEXT NOT NULL);
      CREATE TABLE accountant (round INTEGER PRIMARY KEY REFERENCES rounds(round), noise_multiplier REAL NOT NULL, sampling_rate REAL NOT NULL);
      INSERT INTO rounds VALUES (1, '2026-01-01T00:00:00Z', '["a","b"]', '["a","b"]', '[]', '{}'), (2, '2026-01-01T00:01:00Z', '["b"]', '["b"]', '[]', '{}');
      INSERT INTO accountant VALUES (1, 1.1, 0.5), (2, 1.1, 0.5);
    `);
    v1.close();
    const db = FederationDb.open(dir);
    expect(db.accountant()).toEqual([
      { noiseMultiplier: 1.1, samplingRate: 0.5 },
      { noiseMultiplier: 1.1, samplingRate: 0.5 },
    ]);
    expect(db.attempts().map((a) => [a.round, a.attemptId, a.cohort])).toEqual([
      [1, 'v1-round-1', ['a', 'b']],
      [2, 'v1-round-2', ['b']],
    ]);
    db.recordDraw({ round: 3, attemptId: 'x1', cohort: [], charge: { noiseMultiplier: 1.1, samplingRate: 0.5 } });
    db.recordDraw({ round: 3, attemptId: 'x2', cohort: ['a'], charge: null });
    expect(db.accountant()).toHaveLength(3);
    expect(db.completedRound()).toBe(2);
    db.close();
    // Reopening finds version 2 and changes nothing.
    const again = FederationDb.open(dir);
    expect(again.attempts()).toHaveLength(4);
    again.close();
  });
});
