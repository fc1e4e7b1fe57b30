import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { RoundRecord } from '../src/core/privacy/index.js';
import { z } from 'zod';
import { RoundResultSchema, type RoundResult } from '../src/core/protocol/messages.js';

/**
 * The aggregator's embedded database (SQLite, WAL): federation, members, invites, rounds, the
 * drawn attempts (the federation accountant) and the server optimizer's state after the last round. An attempt is written when its cohort is drawn, before
 * any member hears of it; a round's row and the members' contribution counts are written in one
 * transaction, after the round's checkpoint is on disk.
 */
const SCHEMA_VERSION = 2;

const MIGRATION = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invites (
  id TEXT PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE,
  max_uses INTEGER,
  uses INTEGER NOT NULL DEFAULT 0,
  expires_at TEXT,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS members (
  client_id TEXT PRIMARY KEY,
  sign_public_key BLOB NOT NULL,
  box_public_key BLOB NOT NULL,
  invite_id TEXT NOT NULL REFERENCES invites(id),
  registered_at TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  rounds_contributed INTEGER NOT NULL DEFAULT 0,
  revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS rounds (
  round INTEGER PRIMARY KEY,
  completed_at TEXT NOT NULL,
  cohort TEXT NOT NULL,
  survivors TEXT NOT NULL,
  declined TEXT NOT NULL,
  result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
  round INTEGER NOT NULL,
  attempt_id TEXT NOT NULL,
  drawn_at TEXT NOT NULL,
  cohort TEXT NOT NULL,
  noise_multiplier REAL,
  sampling_rate REAL,
  PRIMARY KEY (round, attempt_id)
);
CREATE TABLE IF NOT EXISTS attempt_aborts (
  round INTEGER NOT NULL,
  attempt_id TEXT NOT NULL,
  aborted_at TEXT NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (round, attempt_id)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  round INTEGER PRIMARY KEY,
  sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS update_norms (
  round INTEGER PRIMARY KEY REFERENCES rounds(round),
  median REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS optimizer_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  round INTEGER NOT NULL,
  state BLOB NOT NULL
);
`;

/**
 * Version 1 state: its checkpoints have no digest, and it kept one accountant row per released
 * round. The rounds it had completed are remembered as 'undigested_through' (such a checkpoint's
 * digest is recorded the first time it is read, with a warning: it is trusted as found; every later
 * one is verified), and each accountant row becomes a drawn attempt of its own.
 */
function migrateFromV1(db: Database.Database): void {
  db.transaction(() => {
    const row = db.prepare(`SELECT MAX(round) AS round FROM rounds`).get() as { round: number | null };
    db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('undigested_through', ?)`).run(String(row.round ?? 0));
    db.exec(`
      INSERT INTO attempts (round, attempt_id, drawn_at, cohort, noise_multiplier, sampling_rate)
        SELECT a.round, 'v1-round-' || a.round, r.completed_at, r.cohort, a.noise_multiplier, a.sampling_rate
        FROM accountant a JOIN rounds r ON r.round = a.round;
      DROP TABLE accountant;
    `);
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'schema_version'`).run(String(SCHEMA_VERSION));
  })();
}

export interface InviteRow {
  id: string;
  maxUses: number | null;
  uses: number;
  expiresAt: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface MemberRow {
  clientId: string;
  signPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
  inviteId: string;
  registeredAt: string;
  lastSeen: string;
  roundsContributed: number;
  revokedAt: string | null;
}

export type InviteRefusal = 'unknown' | 'expired' | 'used-up' | 'revoked';

export interface CompletedRound {
  result: RoundResult;
  cohort: string[];
  survivors: string[];
  declined: string[];
  /** SHA-256 of the round's checkpoint, as writeCheckpoint returned it. */
  checkpointSha256: string;
  /** Median L2 norm (as sent) of the round's accepted updates; null for a secure round (the server saw none). */
  medianUpdateNorm: number | null;
  /** The server optimizer's state after this round (encodeOptimizerState), kept for the latest round only. */
  optimizerState: Uint8Array;
}

/** A drawn attempt that released nothing, and why (for the operator's rounds table). */
export interface AbortedAttempt {
  round: number;
  attemptId: string;
  drawnAt: string;
  abortedAt: string;
  /** The cohort's size (the operator may see counts). */
  cohort: number;
  /** A short code (e.g. too-few-updates, abandoned, global-guard) and the server's words. */
  kind: string;
  reason: string;
}

/** One drawn attempt at a round; `charge` is its accountant record (null with DP off). */
export interface DrawnAttempt {
  round: number;
  attemptId: string;
  cohort: string[];
  charge: RoundRecord | null;
}

export class FederationDb {
  private constructor(private readonly db: Database.Database) {}

  static open(stateDir: string): FederationDb {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700);
    // Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
    const path = join(stateDir, 'covey.db');
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec(MIGRATION);
    const version = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string } | undefined;
    if (!version) db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
    else if (version.value === '1') migrateFromV1(db);
    else if (Number(version.value) !== SCHEMA_VERSION) {
      db.close();
      throw new Error(`${join(stateDir, 'covey.db')} has schema version ${version.value}; this server needs ${SCHEMA_VERSION}`);
    }
    return new FederationDb(db);
  }

  close(): void {
    this.db.close();
  }

  // ---- federation ----------------------------------------------------------------------------

  federationId(): string | null {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'federation_id'`).get() as { value: string } | undefined;
    return row?.value ?? null;
  }

  /** A new federation and the digest of its round-0 checkpoint (the initial weights). */
  initFederation(federationId: string, initialCheckpointSha256: string): void {
    this.db.transaction(() => {
      this.db.prepare(`INSERT INTO meta (key, value) VALUES ('federation_id', ?)`).run(federationId);
      this.db.prepare(`INSERT OR REPLACE INTO checkpoints (round, sha256) VALUES (0, ?)`).run(initialCheckpointSha256);
    })();
  }

  /** The SHA-256 recorded for round `round`'s checkpoint, or null when none was. */
  checkpointSha256(round: number): string | null {
    const row = this.db.prepare(`SELECT sha256 FROM checkpoints WHERE round = ?`).get(round) as { sha256: string } | undefined;
    return row?.sha256 ?? null;
  }

  /** Rounds up to this one completed before checkpoints had digests (state from schema version 1). */
  undigestedThrough(): number {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'undigested_through'`).get() as { value: string } | undefined;
    return row ? Number(row.value) : -1;
  }

  /** Records the digest of a checkpoint written before digests existed (see migrateFromV1). */
  recordUndigestedCheckpoint(round: number, sha256: string): void {
    if (round > this.undigestedThrough()) throw new Error(`round ${round}'s checkpoint was written with a digest; it cannot be re-recorded`);
    this.db.prepare(`INSERT INTO checkpoints (round, sha256) VALUES (?, ?)`).run(round, sha256);
  }

  /** The path of the database file, for messages. */
  get path(): string {
    return this.db.name;
  }

  completedRound(): number {
    const row = this.db.prepare(`SELECT MAX(round) AS round FROM rounds`).get() as { round: number | null };
    return row.round ?? 0;
  }

  results(): (RoundResult & { cohort: number })[] {
    const rows = this.db.prepare(`SELECT result, cohort FROM rounds ORDER BY round`).all() as { result: string; cohort: string }[];
    return rows.map((r) => ({ ...RoundResultSchema.parse(JSON.parse(r.result)), cohort: z.array(z.string()).parse(JSON.parse(r.cohort)).length }));
  }

  /** The federation accountant: one record per attempt drawn with DP on, released or not, in draw order. */
  accountant(): RoundRecord[] {
    return this.db
      .prepare(`SELECT noise_multiplier AS noiseMultiplier, sampling_rate AS samplingRate FROM attempts WHERE noise_multiplier IS NOT NULL ORDER BY rowid`)
      .all() as RoundRecord[];
  }

  /** Every drawn attempt, in draw order. */
  attempts(): DrawnAttempt[] {
    const rows = this.db
      .prepare(`SELECT round, attempt_id AS attemptId, cohort, noise_multiplier AS z, sampling_rate AS q FROM attempts ORDER BY rowid`)
      .all() as { round: number; attemptId: string; cohort: string; z: number | null; q: number | null }[];
    return rows.map((r) => ({
      round: r.round,
      attemptId: r.attemptId,
      cohort: JSON.parse(r.cohort) as string[],
      charge: r.z === null || r.q === null ? null : { noiseMultiplier: r.z, samplingRate: r.q },
    }));
  }

  /** Records a drawn attempt (and so charges the accountant) durably: call before any member is told of it. */
  recordDraw(attempt: DrawnAttempt): void {
    this.db
      .prepare(`INSERT INTO attempts (round, attempt_id, drawn_at, cohort, noise_multiplier, sampling_rate) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(
        attempt.round,
        attempt.attemptId,
        new Date().toISOString(),
        JSON.stringify(attempt.cohort),
        attempt.charge?.noiseMultiplier ?? null,
        attempt.charge?.samplingRate ?? null,
      );
  }

  /** Records why a drawn attempt released nothing (its draw stays charged: see recordDraw). */
  recordAbort(abort: { round: number; attemptId: string; kind: string; reason: string }): void {
    this.db
      .prepare(`INSERT OR REPLACE INTO attempt_aborts (round, attempt_id, aborted_at, kind, reason) VALUES (?, ?, ?, ?, ?)`)
      .run(abort.round, abort.attemptId, new Date().toISOString(), abort.kind, abort.reason);
  }

  /** Every aborted attempt, in draw order. */
  abortedAttempts(): AbortedAttempt[] {
    const rows = this.db
      .prepare(
        `SELECT a.round, a.attempt_id AS attemptId, a.drawn_at AS drawnAt, b.aborted_at AS abortedAt, a.cohort, b.kind, b.reason
         FROM attempts a JOIN attempt_aborts b ON b.round = a.round AND b.attempt_id = a.attempt_id ORDER BY a.rowid`,
      )
      .all() as (Omit<AbortedAttempt, 'cohort'> & { cohort: string })[];
    return rows.map((r) => ({ ...r, cohort: z.array(z.string()).parse(JSON.parse(r.cohort)).length }));
  }

  /** The median accepted update norm of the last completed round; null when it has none recorded. */
  lastMedianUpdateNorm(): number | null {
    const row = this.db.prepare(`SELECT median FROM update_norms WHERE round = (SELECT MAX(round) FROM rounds)`).get() as { median: number } | undefined;
    return row?.median ?? null;
  }

  /** The server optimizer's state and the round it follows, or null before the first round that stored one. */
  optimizerState(): { round: number; state: Uint8Array } | null {
    const row = this.db.prepare(`SELECT round, state FROM optimizer_state WHERE id = 1`).get() as { round: number; state: Buffer } | undefined;
    return row ? { round: row.round, state: new Uint8Array(row.state) } : null;
  }

  /** Everything a completed round changes, in one transaction. */
  commitRound(round: CompletedRound): void {
    const { result } = round;
    this.db.transaction(() => {
      this.db
        .prepare(`INSERT INTO rounds (round, completed_at, cohort, survivors, declined, result) VALUES (?, ?, ?, ?, ?, ?)`)
        .run(
          result.round,
          new Date().toISOString(),
          JSON.stringify(round.cohort),
          JSON.stringify(round.survivors),
          JSON.stringify(round.declined),
          JSON.stringify(result),
        );
      this.db.prepare(`INSERT OR REPLACE INTO checkpoints (round, sha256) VALUES (?, ?)`).run(result.round, round.checkpointSha256);
      if (round.medianUpdateNorm !== null) {
        this.db.prepare(`INSERT INTO update_norms (round, median) VALUES (?, ?)`).run(result.round, round.medianUpdateNorm);
      }
      this.db
        .prepare(`INSERT OR REPLACE INTO optimizer_state (id, round, state) VALUES (1, ?, ?)`)
        .run(result.round, Buffer.from(round.optimizerState.buffer, round.optimizerState.byteOffset, round.optimizerState.byteLength));
      const bump = this.db.prepare(`UPDATE members SET rounds_contributed = rounds_contributed + 1 WHERE client_id = ?`);
      for (const id of round.survivors) bump.run(id);
    })();
  }

  // ---- invites -------------------------------------------------------------------------------

  createInvite(invite: { id: string; tokenHash: Uint8Array; maxUses: number | null; expiresAt: string | null }): void {
    this.db
      .prepare(`INSERT INTO invites (id, token_hash, max_uses, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`)
      .run(invite.id, Buffer.from(invite.tokenHash), invite.maxUses, invite.expiresAt, new Date().toISOString());
  }

  invites(): InviteRow[] {
    return this.db
      .prepare(
        `SELECT id, max_uses AS maxUses, uses, expires_at AS expiresAt, created_at AS createdAt, revoked_at AS revokedAt FROM invites ORDER BY created_at`,
      )
      .all() as InviteRow[];
  }

  hasInviteHash(tokenHash: Uint8Array): boolean {
    return this.db.prepare(`SELECT 1 FROM invites WHERE token_hash = ?`).get(Buffer.from(tokenHash)) !== undefined;
  }

  /** Registers a new member against an invite, using up one of its uses, atomically. */
  registerMember(
    tokenHash: Uint8Array,
    member: { clientId: string; signPublicKey: Uint8Array; boxPublicKey: Uint8Array },
    now: Date,
  ): { ok: true } | { ok: false; reason: InviteRefusal } {
    return this.db.transaction(() => {
      const invite = this.db
        .prepare(`SELECT id, max_uses AS maxUses, uses, expires_at AS expiresAt, revoked_at AS revokedAt FROM invites WHERE token_hash = ?`)
        .get(Buffer.from(tokenHash)) as Omit<InviteRow, 'createdAt'> | undefined;
      if (!invite) return { ok: false as const, reason: 'unknown' as const };
      if (invite.revokedAt) return { ok: false as const, reason: 'revoked' as const };
      if (invite.expiresAt && Date.parse(invite.expiresAt) <= now.getTime()) return { ok: false as const, reason: 'expired' as const };
      if (invite.maxUses !== null && invite.uses >= invite.maxUses) return { ok: false as const, reason: 'used-up' as const };
      this.db.prepare(`UPDATE invites SET uses = uses + 1 WHERE id = ?`).run(invite.id);
      this.db
        .prepare(`INSERT INTO members (client_id, sign_public_key, box_public_key, invite_id, registered_at, last_seen) VALUES (?, ?, ?, ?, ?, ?)`)
        .run(member.clientId, Buffer.from(member.signPublicKey), Buffer.from(member.boxPublicKey), invite.id, now.toISOString(), now.toISOString());
      return { ok: true as const };
    })();
  }

  /** Revokes an invite (by id or unique id prefix) or a member (by client id). */
  revoke(idOrPrefix: string): { kind: 'invite' | 'member'; id: string } {
    const now = new Date().toISOString();
    const member = this.db.prepare(`SELECT client_id FROM members WHERE client_id = ?`).get(idOrPrefix) as { client_id: string } | undefined;
    if (member) {
      this.db.prepare(`UPDATE members SET revoked_at = ? WHERE client_id = ?`).run(now, member.client_id);
      return { kind: 'member', id: member.client_id };
    }
    const invites = this.db.prepare(`SELECT id FROM invites WHERE id LIKE ? || '%'`).all(idOrPrefix) as { id: string }[];
    if (invites.length !== 1) {
      throw new Error(invites.length === 0 ? `no invite or member '${idOrPrefix}'` : `'${idOrPrefix}' matches ${invites.length} invites; give more of the id`);
    }
    this.db.prepare(`UPDATE invites SET revoked_at = ? WHERE id = ?`).run(now, invites[0].id);
    return { kind: 'invite', id: invites[0].id };
  }

  // ---- members -------------------------------------------------------------------------------

  member(clientId: string): MemberRow | null {
    const row = this.db
      .prepare(
        `SELECT client_id AS clientId, sign_public_key AS signPublicKey, box_public_key AS boxPublicKey, invite_id AS inviteId,
                registered_at AS registeredAt, last_seen AS lastSeen, rounds_contributed AS roundsContributed, revoked_at AS revokedAt
         FROM members WHERE client_id = ?`,
      )
      .get(clientId) as MemberRow | undefined;
    return row ? { ...row, signPublicKey: new Uint8Array(row.signPublicKey), boxPublicKey: new Uint8Array(row.boxPublicKey) } : null;
  }

  members(): Omit<MemberRow, 'signPublicKey' | 'boxPublicKey'>[] {
    return this.db
      .prepare(
        `SELECT client_id AS clientId, invite_id AS inviteId, registered_at AS registeredAt, last_seen AS lastSeen,
                rounds_contributed AS roundsContributed, revoked_at AS revokedAt FROM members ORDER BY registered_at`,
      )
      .all() as Omit<MemberRow, 'signPublicKey' | 'boxPublicKey'>[];
  }

  /** Ids of revoked members (the server polls this to close their live connections). */
  revokedMemberIds(): string[] {
    return (this.db.prepare(`SELECT client_id FROM members WHERE revoked_at IS NOT NULL`).all() as { client_id: string }[]).map((r) => r.client_id);
  }

  touchMember(clientId: string, now: Date): void {
    this.db.prepare(`UPDATE members SET last_seen = ? WHERE client_id = ?`).run(now.toISOString(), clientId);
  }
}
