import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { generateIdentity, getSodium, sealUpdate, type Identity } from '../../src/core/crypto/index.js';
import { encodeFrame } from '../../src/core/protocol/frame.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { EVENTS, RoundStartSchema, type RoundStart } from '../../src/core/protocol/messages.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';
import { stringMatching } from '../helpers/matchers.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface RawMember {
  socket: Socket;
  start: Promise<RoundStart>;
  update: () => Promise<unknown>;
  decline: () => Promise<unknown>;
}

async function rawMember(url: string, inviteCode: string, modelLength: number): Promise<RawMember> {
  const { token, fingerprintHex } = parseInvite(inviteCode);
  const identity: Identity = await generateIdentity();
  const socket = await connectRaw(url, (s) => cleanup.push(() => void s.disconnect()));
  const start = new Promise<RoundStart>((resolve) => socket.once(EVENTS.roundStart, (raw: unknown) => resolve(RoundStartSchema.parse(raw))));
  const joined = await sendHello(socket, await helloPayload(socket, identity, fingerprintHex, token));
  expect(joined.ok).toBe(true);
  const sodium = await getSodium();
  const serverBox = sodium.from_base64(joined.server!.boxPublicKey);
  const context = async () => {
    const s = await start;
    return { federationId: s.federationId, round: s.round, attemptId: s.attemptId, clientId: joined.clientId! };
  };
  return {
    socket,
    start,
    async update() {
      const ctx = await context();
      const values = new Float32Array(modelLength).fill(0.001);
      const sealed = await sealUpdate({
        plaintext: encodeFrame({ kind: 'update', round: ctx.round, numExamples: 50, values }),
        context: ctx,
        sender: identity,
        recipientBoxPublicKey: serverBox,
      });
      return socket.timeout(10_000).emitWithAck(EVENTS.update, ctx, sealed) as Promise<unknown>;
    },
    async decline() {
      const ctx = await context();
      return socket.timeout(10_000).emitWithAck(EVENTS.decline, { ...ctx, reason: 'budget', message: 'cap reached' }) as Promise<unknown>;
    },
  };
}

describe('one answer per member per attempt (finding 5)', () => {
  it(
    'refuses an update after a decline, a decline after an update, and a second decline; the round waits for the honest member',
    { timeout: 120_000 },
    async () => {
      const { root } = await writeClientPartitions(1, 10, 3);
      cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
      const config = parseServerConfig({
        federationId: 'one-answer',
        port: 0,
        model: 'logreg',
        rounds: 1,
        seed: 1,
        cohort: { minClients: 1, minConnected: 3, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
        stateDir: join(root, 'server'),
      });
      const server = await Aggregator.create({ config, logger: silentLogger });
      const url = await server.listen();
      cleanup.push(() => server.close());
      const [decliner, updater, late] = [
        await rawMember(url, server.inviteCode, server.modelLength),
        await rawMember(url, server.inviteCode, server.modelLength),
        await rawMember(url, server.inviteCode, server.modelLength),
      ];
      const run = server.run();
      await Promise.all([decliner.start, updater.start, late.start]);

      expect(await decliner.decline()).toEqual({ ok: true });
      expect(await decliner.update()).toMatchObject({ accepted: false, reason: 'already-answered', message: stringMatching(/already declined round 1/) });
      expect(await decliner.decline()).toMatchObject({ ok: false, reason: 'already-answered' });
      expect(await updater.update()).toEqual({ accepted: true });
      expect(await updater.decline()).toMatchObject({ ok: false, reason: 'already-answered', message: stringMatching(/already sent an update/) });
      expect(await updater.update()).toMatchObject({ accepted: false, reason: 'duplicate' });

      // Two of three answered, once each: the round is still open for the third member.
      expect(server.status().openRound).toMatchObject({ round: 1, cohort: 3, received: 1, declined: 1 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(server.currentPhase).toBe('training');
      expect(await late.update()).toEqual({ accepted: true });

      const state = await run;
      expect(state.completedRound).toBe(1);
      expect(state.results[0]).toMatchObject({ participants: 2, declined: 1 });
    },
  );
});
