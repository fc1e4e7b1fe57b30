import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { generateIdentity, getSodium, sealUpdate, type Identity } from '../../src/core/crypto/index.js';
import { decodeFrame, encodeFrame } from '../../src/core/protocol/frame.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { EVENTS, RoundStartSchema, type RoundStart } from '../../src/core/protocol/messages.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface RawMember {
  socket: Socket;
  clientId: string;
  starts: { start: RoundStart; global: Float32Array }[];
  /** Seals and sends an update of `values` for this round start; resolves with the server's acknowledgement. */
  send: (start: RoundStart, values: Float32Array) => Promise<{ accepted: boolean; reason?: string }>;
}

async function joinAs(url: string, server: Aggregator, identity: Identity, onStart?: (m: RawMember, start: RoundStart) => void): Promise<RawMember> {
  const sodium = await getSodium();
  const { token, fingerprintHex } = parseInvite(server.inviteCode);
  const socket = await connectRaw(url);
  cleanup.push(() => socket.disconnect());
  const member = { socket, starts: [] } as unknown as RawMember;
  socket.on(EVENTS.roundStart, (raw: unknown, weights: Uint8Array) => {
    const start = RoundStartSchema.parse(raw);
    member.starts.push({ start, global: decodeFrame(weights, { kind: 'global', length: server.modelLength, round: start.round }).values });
    onStart?.(member, start);
  });
  const joined = (await sendHello(socket, await helloPayload(socket, identity, fingerprintHex, token))) as {
    ok: boolean;
    clientId: string;
    server: { boxPublicKey: string };
  };
  expect(joined.ok).toBe(true);
  member.clientId = joined.clientId;
  member.send = async (start, values) => {
    const context = { federationId: start.federationId, round: start.round, attemptId: start.attemptId, clientId: joined.clientId };
    const sealed = await sealUpdate({
      plaintext: encodeFrame({ kind: 'update', round: start.round, numExamples: 100, values }),
      context,
      sender: identity,
      recipientBoxPublicKey: sodium.from_base64(joined.server.boxPublicKey),
    });
    return socket.timeout(10_000).emitWithAck(EVENTS.update, context, sealed) as Promise<{ accepted: boolean; reason?: string }>;
  };
  return member;
}

describe('finding 4: revocation reaches live connections', () => {
  it('`covey server revoke` closes the member’s socket, aborts the attempt holding its update, and the round completes without it', async () => {
    const { root } = await writeClientPartitions(1, 10, 1);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const stateDir = join(root, 'server');
    const config = parseServerConfig({
      federationId: 'revoke',
      port: 0,
      model: 'logreg',
      rounds: 1,
      seed: 3,
      cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      stateDir,
    });
    const server = await Aggregator.create({ config, logger: silentLogger });
    const url = await server.listen();
    cleanup.push(() => server.close());
    const aborts: string[] = [];
    server.on('abort', ({ reason }) => aborts.push(reason));

    const length = server.modelLength;
    const revoked = await joinAs(url, server, await generateIdentity());
    // Two honest members answer every attempt they are sent, once the revocation is done: +0.001 and -0.001, which cancel out.
    let revocationDone!: () => void;
    const afterRevocation = new Promise<void>((r) => (revocationDone = r));
    const honest = await Promise.all(
      [0.001, -0.001].map(async (v) =>
        joinAs(url, server, await generateIdentity(), (m, start) => void afterRevocation.then(() => m.send(start, new Float32Array(length).fill(v)))),
      ),
    );
    const run = server.run();
    while (revoked.starts.length === 0) await new Promise((r) => setTimeout(r, 50));
    const first = revoked.starts[0];
    // The member to be revoked sends a poisoned update first, and it is accepted.
    expect(await revoked.send(first.start, new Float32Array(length).fill(0.5))).toEqual({ accepted: true });
    const disconnected = new Promise<string>((r) => revoked.socket.once('disconnect', (reason) => r(reason)));

    const cli = spawnCovey(['server', 'revoke', revoked.clientId, '--state-dir', stateDir]);
    expect(await exitCode(cli, 30_000), cli.output()).toBe(0);
    expect(await disconnected).toBe('io server disconnect');
    revocationDone();

    const state = await run;
    expect(aborts.some((r) => /member revoked/.test(r))).toBe(true);
    expect(state.completedRound).toBe(1);
    expect(state.results[0].participants).toBe(2);
    // The revoked member's +0.5 was dropped with its attempt: the honest updates cancel, the model is unchanged.
    expect(Math.max(...server.globalWeights.map((w, i) => Math.abs(w - first.global[i])))).toBeLessThan(1e-5);
    // Its later attempts went to the honest members only.
    expect(revoked.starts.length).toBe(1);
    expect(honest.every((m) => m.starts.length === 2)).toBe(true);
  }, 60_000);
});
