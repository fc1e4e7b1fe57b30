import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { sealedUpdateBytes } from '../../server/updates.js';
import { generateIdentity, getSodium, sealUpdate, type Identity } from '../../src/core/crypto/index.js';
import { decodeFrame, encodeFrame } from '../../src/core/protocol/frame.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { EVENTS, RoundStartSchema, type RoundStart } from '../../src/core/protocol/messages.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

function connect(url: string): Promise<Socket> {
  return connectRaw(url, (socket) => cleanup.push(() => void socket.disconnect()));
}

async function hello(socket: Socket, identity: Identity, token: string, fingerprint: string) {
  return sendHello(socket, await helloPayload(socket, identity, fingerprint, token));
}

describe('bad input is rejected with a logged reason and the server stays up', () => {
  it('rejects malformed, wrong-shaped, non-finite, oversized, tampered, stale and duplicate updates', async () => {
    const { root } = await writeClientPartitions(1, 50, 3);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const logs: { level: string; event: string; reason?: string; message?: string }[] = [];
    const logger = createLogger({ json: true, write: (line) => logs.push(JSON.parse(line) as (typeof logs)[number]) });
    const config = parseServerConfig({
      federationId: 'robust',
      port: 0,
      model: 'logreg',
      rounds: 1,
      seed: 1,
      cohort: { minClients: 1, minConnected: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      stateDir: join(root, 'server'),
    });
    const server = await Aggregator.create({ config, logger });
    const url = await server.listen();
    cleanup.push(() => server.close());
    const { token, fingerprintHex } = parseInvite(server.inviteCode);

    // A stranger who never said hello: malformed and unknown messages, then a payload past the transport limit.
    const stranger = await connect(url);
    const strangerAck: unknown = await stranger.timeout(5000).emitWithAck(EVENTS.update, 'not an object', 42);
    expect(strangerAck).toMatchObject({ accepted: false, reason: 'malformed' });
    stranger.emit('give-me-the-model', { please: true });
    expect((await hello(stranger, await generateIdentity(), 'x'.repeat(43), fingerprintHex)) as object).toMatchObject({ ok: false, reason: 'bad-invite' });
    const disconnected = new Promise<string>((r) => stranger.once('disconnect', (reason) => r(reason)));
    stranger.emit(EVENTS.update, { federationId: 'robust', round: 1, clientId: 'c-x' }, new Uint8Array(sealedUpdateBytes(server.modelLength) + 256 * 1024));
    expect(await disconnected).toMatch(/transport|close/);

    // A registered client in the cohort sends every kind of bad update before a good one.
    const identity = await generateIdentity();
    const socket = await connect(url);
    const roundStart = new Promise<{ start: RoundStart; weights: Uint8Array }>((resolve) =>
      socket.once(EVENTS.roundStart, (start: unknown, weights: Uint8Array) => resolve({ start: RoundStartSchema.parse(start), weights })),
    );
    const joined = (await hello(socket, identity, token, fingerprintHex)) as { ok: boolean; clientId: string; server: { boxPublicKey: string } };
    expect(joined.ok).toBe(true);
    // A second, well-behaved member keeps the round open until it too has answered.
    const peerIdentity = await generateIdentity();
    const peer = await connect(url);
    const peerStart = new Promise<unknown>((resolve) => peer.once(EVENTS.roundStart, resolve));
    const peerJoined = (await hello(peer, peerIdentity, token, fingerprintHex)) as { ok: boolean; clientId: string };
    expect(peerJoined.ok).toBe(true);
    const run = server.run();
    const { start, weights } = await roundStart;
    const sodium = await getSodium();
    const serverBox = sodium.from_base64(joined.server.boxPublicKey);
    const context = { federationId: 'robust', round: start.round, attemptId: start.attemptId, clientId: joined.clientId };
    const global = decodeFrame(weights, { kind: 'global', length: server.modelLength, round: start.round }).values;
    const seal = (values: Float32Array, ctx = context) =>
      sealUpdate({
        plaintext: encodeFrame({ kind: 'update', round: ctx.round, numExamples: 100, values }),
        context: ctx,
        sender: identity,
        recipientBoxPublicKey: serverBox,
      });
    const send = async (header: unknown, payload: unknown) => socket.timeout(10_000).emitWithAck(EVENTS.update, header, payload) as Promise<unknown>;
    const good = new Float32Array(global.length).fill(0.001);

    const nan = good.slice();
    nan[17] = Number.NaN;
    const inf = good.slice();
    inf[global.length - 1] = Number.POSITIVE_INFINITY;
    const tampered = await seal(good);
    tampered[100] ^= 0x01;
    const oversized = new Uint8Array(sealedUpdateBytes(global.length) + 100);
    oversized.set(await seal(good));

    const cases: [string, unknown, unknown][] = [
      ['malformed', { round: 'one' }, await seal(good)],
      ['malformed', context, 'not bytes'],
      ['wrong-shape', context, await seal(good.subarray(1))],
      ['non-finite', context, await seal(nan)],
      ['non-finite', context, await seal(inf)],
      ['oversized', context, oversized],
      ['envelope', context, tampered],
      ['envelope', context, (await seal(good)).subarray(0, 30)],
      ['envelope', context, (await seal(good)).subarray(0, 1000)],
      ['envelope', context, await seal(good, { ...context, round: start.round + 1 })],
      // Sealed with another member's key but claimed as this client's: the envelope binds the sender.
      [
        'envelope',
        context,
        await sealUpdate({
          plaintext: encodeFrame({ kind: 'update', round: start.round, numExamples: 100, values: good }),
          context,
          sender: peerIdentity,
          recipientBoxPublicKey: serverBox,
        }),
      ],
      ['stale-round', { ...context, round: start.round + 1 }, await seal(good, { ...context, round: start.round + 1 })],
    ];
    for (const [reason, header, payload] of cases) {
      expect(await send(header, payload), `expected ${reason}`).toMatchObject({ accepted: false, reason });
    }
    const validSealed = await seal(good);
    expect(await send(context, validSealed)).toEqual({ accepted: true });
    expect(await send(context, validSealed)).toMatchObject({ accepted: false, reason: 'duplicate' });
    await peerStart;
    const peerContext = { ...context, clientId: peerJoined.clientId };
    const peerSealed = await sealUpdate({
      plaintext: encodeFrame({ kind: 'update', round: start.round, numExamples: 100, values: good.map((v) => -v) }),
      context: peerContext,
      sender: peerIdentity,
      recipientBoxPublicKey: serverBox,
    });
    expect(await peer.timeout(10_000).emitWithAck(EVENTS.update, peerContext, peerSealed)).toEqual({ accepted: true });
    // Replayed after the round closed.
    expect(await send(context, validSealed)).toMatchObject({ accepted: false, reason: 'stale-round' });

    const state = await run;
    expect(state.completedRound).toBe(1);
    expect(state.results[0].participants).toBe(2);
    // Two equal-sized updates of +0.001 and -0.001: FedAvg leaves the model where it was.
    expect(server.globalWeights[5]).toBeCloseTo(global[5], 6);

    const rejectedReasons = logs.filter((l) => l.event === 'update rejected').map((l) => l.reason);
    for (const reason of ['malformed', 'wrong-shape', 'non-finite', 'oversized', 'envelope', 'stale-round', 'duplicate']) {
      expect(rejectedReasons).toContain(reason);
    }
    expect(logs.some((l) => l.event === 'message rejected' && /unknown event/.test(l.message ?? ''))).toBe(true);
    expect(logs.some((l) => l.event === 'message rejected' && l.reason === 'bad-invite')).toBe(true);
    // A stranger's disconnect is not logged (its log volume would be the stranger's to choose); a member's is.
    expect(logs.some((l) => l.event === 'client disconnected')).toBe(false);

    // A flood from one connection is cut off; the server stays up for everyone else.
    const flooder = await connect(url);
    const cut = new Promise<string>((r) => flooder.once('disconnect', (reason) => r(reason)));
    for (let i = 0; i < 100; i++) flooder.emit('update', { junk: i }, 'x');
    expect(await cut).toBe('io server disconnect');
    expect(logs.some((l) => l.event === 'message rejected' && l.reason === 'rate-limited')).toBe(true);
    const after = await connect(url);
    expect(after.connected).toBe(true);
  });
});
