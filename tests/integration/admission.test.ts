import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { FederationDb } from '../../server/db.js';
import { createInvite } from '../../server/invites.js';
import { silentLogger } from '../../server/logger.js';
import { generateIdentity, getSodium, sign } from '../../src/core/crypto/index.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { clientHelloMessage, type UnsignedHello } from '../../src/core/protocol/auth.js';
import Database from 'better-sqlite3';
import { connectRaw, helloPayload, sendHello, serverNonce } from '../helpers/raw-client.js';

let server: Aggregator;
let url: string;
let fingerprint: string;
let operatorDb: FederationDb;
let root: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  ({ root } = await writeClientPartitions(1, 10, 1));
  const stateDir = join(root, 'server');
  server = await Aggregator.create({
    config: parseServerConfig({ federationId: 'gate', port: 0, model: 'logreg', rounds: 1, stateDir }),
    logger: silentLogger,
  });
  url = await server.listen();
  fingerprint = server.serverFingerprint;
  // The operator's CLI opens the same database while the server runs.
  operatorDb = FederationDb.open(stateDir);
});

afterAll(async () => {
  sockets.forEach((s) => s.disconnect());
  operatorDb.close();
  await server.close();
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
});

async function connect(): Promise<Socket> {
  const socket = await connectRaw(url);
  sockets.push(socket);
  return socket;
}

function invite(opts: { maxUses?: number | null; expiresInMs?: number | null } = {}) {
  return createInvite(operatorDb, { maxUses: opts.maxUses ?? null, expiresInMs: opts.expiresInMs ?? null });
}

describe('who gets in', () => {
  it('admits a new identity with a valid invite, and the same identity later without one', async () => {
    const { token } = invite();
    const identity = await generateIdentity();
    const first = await connect();
    const joined = await sendHello(first, await helloPayload(first, identity, fingerprint, token));
    expect(joined).toMatchObject({ ok: true });
    first.disconnect();
    const again = await connect();
    expect(await sendHello(again, await helloPayload(again, identity, fingerprint))).toMatchObject({ ok: true, clientId: joined.clientId });
  });

  it('refuses no invite, an unknown, expired, used-up or revoked invite, each with its reason', async () => {
    const cases: [string, string | undefined, string][] = [
      ['no invite', undefined, 'bad-invite'],
      ['unknown token', 'A'.repeat(43), 'bad-invite'],
      ['expired', invite({ expiresInMs: -1000 }).token, 'invite-expired'],
    ];
    const single = invite({ maxUses: 1 });
    const s1 = await connect();
    expect(await sendHello(s1, await helloPayload(s1, await generateIdentity(), fingerprint, single.token))).toMatchObject({ ok: true });
    cases.push(['used up', single.token, 'invite-used-up']);
    const revoked = invite();
    expect(operatorDb.revoke(revoked.id)).toEqual({ kind: 'invite', id: revoked.id });
    cases.push(['revoked', revoked.token, 'invite-revoked']);
    for (const [name, token, reason] of cases) {
      const socket = await connect();
      const reply = await sendHello(socket, await helloPayload(socket, await generateIdentity(), fingerprint, token));
      expect(reply, name).toMatchObject({ ok: false, reason });
      expect(reply.message, name).toMatch(/invite/);
    }
  });

  it('refuses a forged signature, a replayed hello, a new key under a registered identity, and a revoked member', async () => {
    const sodium = await getSodium();
    const { token } = invite();
    const identity = await generateIdentity();
    const a = await connect();
    const recorded = await helloPayload(a, identity, fingerprint, token);
    const admitted = await sendHello(a, recorded);
    expect(admitted.ok).toBe(true);

    // Forged: claims this identity's public key, signed by another key.
    const forger = await generateIdentity();
    const b = await connect();
    const { signature: _own, ...unsigned } = await helloPayload(b, identity, fingerprint);
    const forgedSignature = await sign(forger, await clientHelloMessage(await serverNonce(b), fingerprint, unsigned as UnsignedHello));
    const forged = { ...unsigned, signature: sodium.to_base64(forgedSignature) };
    expect(await sendHello(b, forged)).toMatchObject({ ok: false, reason: 'bad-signature' });

    // Replayed: the exact hello recorded on connection a, sent on a new connection (new nonce).
    const c = await connect();
    expect(await sendHello(c, recorded)).toMatchObject({ ok: false, reason: 'bad-signature' });

    // Taken over: the registered signing key presented with another encryption key.
    const d = await connect();
    const other = await generateIdentity();
    const takeover = await helloPayload(d, { ...identity, boxPublicKey: other.boxPublicKey, boxSecretKey: other.boxSecretKey }, fingerprint);
    expect(await sendHello(d, takeover)).toMatchObject({ ok: false, reason: 'key-mismatch' });

    // Revoked member: refused before anything round-related.
    operatorDb.revoke(admitted.clientId!);
    const e = await connect();
    expect(await sendHello(e, await helloPayload(e, identity, fingerprint))).toMatchObject({ ok: false, reason: 'revoked' });
    const ack: unknown = await e
      .timeout(5000)
      .emitWithAck('update', { federationId: 'gate', round: 1, attemptId: 'x', clientId: admitted.clientId }, new Uint8Array(10));
    expect(ack).toMatchObject({ accepted: false, reason: 'unknown-client' });
  });

  it('finding 8: the hello signature covers both keys, the invite token, the example count and the client challenge', async () => {
    const { token } = invite();
    const other = invite();
    const attacker = await generateIdentity();
    const sodium = await getSodium();
    const tamperings: [string, (hello: Record<string, unknown>) => Record<string, unknown>][] = [
      ['encryption key swapped', (h) => ({ ...h, boxPublicKey: sodium.to_base64(attacker.boxPublicKey) })],
      ['example count inflated', (h) => ({ ...h, numExamples: 4_294_967_295 })],
      ['invite token swapped', (h) => ({ ...h, token: other.token })],
      ['client challenge swapped', (h) => ({ ...h, challenge: sodium.to_base64(sodium.randombytes_buf(32)) })],
    ];
    for (const [name, tamper] of tamperings) {
      const victim = await generateIdentity();
      const socket = await connect();
      const reply = await sendHello(socket, tamper(await helloPayload(socket, victim, fingerprint, token)));
      expect(reply, name).toMatchObject({ ok: false, reason: 'bad-signature' });
    }
  });

  it('finding 6: a known client id presented with another signing key is refused (the stored signing key is compared)', async () => {
    const { token } = invite();
    const identity = await generateIdentity();
    const first = await connect();
    const joined = await sendHello(first, await helloPayload(first, identity, fingerprint, token));
    expect(joined.ok).toBe(true);
    first.disconnect();
    // A 64-bit client id can collide: simulate a stored member whose id matches but whose signing key differs.
    const raw = new Database(join(root, 'server', 'covey.db'));
    raw.prepare('UPDATE members SET sign_public_key = ? WHERE client_id = ?').run(Buffer.from((await generateIdentity()).signPublicKey), joined.clientId);
    raw.close();
    const again = await connect();
    expect(await sendHello(again, await helloPayload(again, identity, fingerprint))).toMatchObject({ ok: false, reason: 'key-mismatch' });
  });
});
