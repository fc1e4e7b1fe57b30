import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FederationDb } from './db.js';

/** SHA-256 of an invite token: only the hash is stored, so a stolen database admits no one. */
export function hashToken(token: string): Uint8Array {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** "7d", "12h", "30m", "45s" -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`cannot read the duration '${text}' (use e.g. 30m, 12h, 7d)`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

export interface CreatedInvite {
  id: string;
  token: string;
  maxUses: number | null;
  expiresAt: string | null;
}

/** A new invite: a 256-bit random token, stored hashed, with optional use limit and expiry. */
export function createInvite(db: FederationDb, opts: { maxUses: number | null; expiresInMs: number | null; token?: string }): CreatedInvite {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const id = randomBytes(6).toString('hex');
  const expiresAt = opts.expiresInMs === null ? null : new Date(Date.now() + opts.expiresInMs).toISOString();
  db.createInvite({ id, tokenHash: hashToken(token), maxUses: opts.maxUses, expiresAt });
  return { id, token, maxUses: opts.maxUses, expiresAt };
}

/** A random secret kept in a 0600 file (e.g. the operator token), created on first use. */
export async function loadOrCreateSecret(path: string): Promise<string> {
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    if (!/^[A-Za-z0-9_-]{32,}$/.test(secret)) throw new Error(`${path} does not hold a valid secret; delete it to make a new one`);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('base64url');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}
