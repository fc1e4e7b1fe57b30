/**
 * What members are told (issue 11, findings 2 and 5; issue 10, finding 8): no cohort counts in DP
 * modes, signed results and federation end, and a ledger and cap that belong to the participant.
 * A real aggregator on loopback, real FederationClients on real MNIST digits.
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server as SocketServer } from 'socket.io';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { FederationClient, type ClientEvent, type FederationClientOptions } from '../../src/client/federation-client.js';
import { epsilonFor } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { EVENTS, roundStartSigningContext, type RoundStart } from '../../src/core/protocol/messages.js';
import { encodeFrame } from '../../src/core/protocol/frame.js';
import { challengeMessage, generateIdentity, getSodium, sign, type Identity } from '../../src/core/crypto/index.js';
import { signMessage } from '../../src/core/protocol/signed.js';
import { writeParticipants } from '../helpers/federation-data.js';
import { stringMatching } from '../helpers/matchers.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function startServer(config: ServerConfigInput) {
  const server = await Aggregator.create({ config: parseServerConfig(config), logger: silentLogger });
  const url = await server.listen();
  cleanup.push(() => server.close());
  return { server, url };
}

async function join_(url: string, inviteCode: string, options: Omit<FederationClientOptions, 'serverUrl' | 'invite'>) {
  const client = new FederationClient({ serverUrl: url, invite: parseInvite(inviteCode), trainSeed: 1, ...options });
  const events: ClientEvent[] = [];
  client.on('event', (e) => events.push(e));
  cleanup.push(() => client.close());
  await client.connect();
  return { client, events };
}

async function participants(count: number, seed: number) {
  const { root, participants } = await writeParticipants(count, seed);
  cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  return participants;
}

const base = {
  port: 0,
  model: 'logreg' as const,
  seed: 1,
  training: { epochs: 1, batchSize: 50, learningRate: 0.05 },
  cohort: { minClients: 1, expectedClients: 1, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
};
const central = { mode: 'central' as const, noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 };

function results(events: ClientEvent[]) {
  return events.flatMap((e) => (e.type === 'round-result' ? [e.result] : []));
}

describe('what members are told', () => {
  it('gives members no cohort counts with DP on (only whether their own update counted); DP off keeps them', async () => {
    const ps = await participants(2, 31);
    const noisy = await startServer({ ...base, federationId: 'counts-dp', rounds: 1, stateDir: join(ps[0].root, 'dp'), dp: central });
    const members = await Promise.all(ps.map((p) => join_(noisy.url, noisy.server.inviteCode, p)));
    const state = await noisy.server.run();
    expect(state.results[0].participants).toBe(2); // the operator keeps the count
    await new Promise((r) => setTimeout(r, 200));
    for (const m of members) {
      const [result] = results(m.events);
      expect(result).toBeDefined();
      expect(Object.keys(result)).not.toContain('participants');
      expect(Object.keys(result)).not.toContain('declined');
      expect(result.counted).toBe(true);
      m.client.close();
    }

    const plain = await startServer({ ...base, federationId: 'counts-off', rounds: 1, stateDir: join(ps[0].root, 'off') });
    const plainMembers = await Promise.all(ps.map((p) => join_(plain.url, plain.server.inviteCode, { ...p, stateDir: `${p.stateDir}-off` })));
    await plain.server.run();
    await new Promise((r) => setTimeout(r, 200));
    expect(results(plainMembers[0].events).map((r) => [r.participants, r.declined, r.counted])).toEqual([[2, 0, true]]);
  });

  it('ignores (and says so) a round result or federation end that the pinned server key did not sign', async () => {
    const [p] = await participants(1, 32);
    const { server, url } = await startServer({ ...base, federationId: 'signed', rounds: 2, stateDir: join(p.root, 'server'), dp: central });
    const member = await join_(url, server.inviteCode, p);
    const impostor = await generateIdentity();
    const io = (server as unknown as { io: SocketServer }).io;
    const clientId = (member.events.find((e) => e.type === 'joined') as Extract<ClientEvent, { type: 'joined' }>).clientId;
    server.on('round', (r) => {
      if (r.round !== 1) return;
      void (async () => {
        const forged = await signMessage(impostor, 'result', {
          federationId: 'signed',
          round: 7,
          clientId,
          counted: true,
          accuracy: 1,
          loss: 0,
          epsilon: 0,
          delta: 1e-5,
          seconds: 1,
        });
        io.emit(EVENTS.roundResult, forged);
        io.emit(EVENTS.roundResult, { ...forged, signature: undefined });
        io.emit(
          EVENTS.federationDone,
          await signMessage(impostor, 'done', {
            federationId: 'signed',
            outcome: 'completed' as const,
            reason: null,
            message: 'completed all 1 rounds',
            rounds: 1,
            of: 1,
          }),
        );
        io.emit(EVENTS.federationDone, {
          federationId: 'signed',
          outcome: 'completed' as const,
          reason: null,
          message: 'completed all 1 rounds',
          rounds: 1,
          of: 1,
        });
      })();
    });
    const state = await server.run();
    expect(state.completedRound).toBe(2);
    const completed = { outcome: 'completed', reason: null, message: 'completed all 2 rounds', rounds: 2, of: 2 };
    expect(await member.client.untilDone()).toEqual(completed);
    expect(results(member.events).map((r) => r.round)).toEqual([1, 2]);
    expect(member.events.filter((e) => e.type === 'done')).toEqual([{ type: 'done', ...completed }]);
    const warnings = member.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    expect(warnings.filter((w) => /ignored a server message: round-result not signed by the pinned server key/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /ignored a server message: malformed or unsigned round-result/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /ignored a server message: federation-done not signed by the pinned server key/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /ignored a server message: malformed or unsigned federation-done/.test(w))).toHaveLength(1);
  });
});

describe('round starts the server did not announce', () => {
  it('declines a correctly signed round start for an attempt that was never announced, before training', async () => {
    const [p] = await participants(1, 36);
    const { server, url } = await startServer({ ...base, federationId: 'silent', rounds: 1, stateDir: join(p.root, 'server'), dp: central });
    const member = await join_(url, server.inviteCode, p);
    // The server's own key signs a round start that skips the announcement (run() is never called).
    const sodium = await getSodium();
    const identity = (server as unknown as { identity: Identity }).identity;
    const frame = encodeFrame({ kind: 'global', round: 1, numExamples: 0, values: server.globalWeights });
    const unsigned: Omit<RoundStart, 'signature'> = {
      federationId: 'silent',
      round: 1,
      attemptId: 'unannounced',
      deadline: Date.now() + 30_000,
      settings: { training: base.training, dp: central, samplingRate: 1 },
      weightsDigest: sodium.to_base64(sodium.crypto_generichash(32, frame, null)),
    };
    const signature = await sign(identity, challengeMessage('round-start', sodium.from_base64(unsigned.weightsDigest), roundStartSigningContext(unsigned)));
    (server as unknown as { io: SocketServer }).io.emit(EVENTS.roundStart, { ...unsigned, signature: sodium.to_base64(signature) }, frame);
    await vi.waitFor(() => expect(member.events.some((e) => e.type === 'declined')).toBe(true), { timeout: 10_000 });
    const declined = member.events.find((e) => e.type === 'declined');
    expect(declined).toMatchObject({ round: 1, reason: 'consent', message: stringMatching(/did not announce this attempt/) });
    expect(member.events.some((e) => e.type === 'round-start' || e.type === 'update-sent')).toBe(false);
    const ledger = await LedgerFile.open(ledgerPath(p.stateDir, server.serverFingerprint));
    expect(ledger.entries.filter((e) => e.kind === 'contribution')).toHaveLength(0);
  });
});

describe("the participant's ledger and cap", () => {
  const worstAfter = (k: number) =>
    epsilonFor(
      Array.from({ length: k }, () => ({ noiseMultiplier: central.noiseMultiplier, samplingRate: 1 })),
      central.delta,
      'prv',
    ).epsilon;
  const roomForTwo = () => (worstAfter(2) + worstAfter(3)) / 2;

  it('keeps one ledger and cap per server key: the same key under a new federation id does not reset them', async () => {
    const [p] = await participants(1, 33);
    const cap = { epsilon: roomForTwo(), view: 'worst-case' as const };
    const first = await startServer({ ...base, federationId: 'fed-a', rounds: 2, stateDir: join(p.root, 'a'), dp: central });
    const a = await join_(first.url, first.server.inviteCode, { ...p, cap });
    expect((await first.server.run()).completedRound).toBe(2);
    a.client.close();
    await first.server.close();

    // The operator starts a "new" federation with the same server key.
    await mkdir(join(p.root, 'b'), { recursive: true });
    await copyFile(join(p.root, 'a', 'identity.json'), join(p.root, 'b', 'identity.json'));
    const second = await startServer({
      ...base,
      federationId: 'fed-b',
      rounds: 2,
      stateDir: join(p.root, 'b'),
      dp: central,
      cohort: { ...base.cohort, maxAttemptsPerRound: 1 },
    });
    expect(second.server.serverFingerprint).toBe(first.server.serverFingerprint);
    const b = await join_(second.url, second.server.inviteCode, { ...p, cap });
    await second.server.run();
    const declines = b.events.filter((e) => e.type === 'declined');
    expect(declines.length).toBeGreaterThan(0);
    expect(declines.every((e) => e.type === 'declined' && e.reason === 'budget')).toBe(true);
    expect(b.events.some((e) => e.type === 'update-sent')).toBe(false);
    expect(await readdir(join(p.stateDir, 'ledger'))).toEqual([`${first.server.serverFingerprint}.jsonl`]);
    const ledger = await LedgerFile.open(ledgerPath(p.stateDir, first.server.serverFingerprint));
    expect(new Set(ledger.entries.map((e) => e.federationId))).toEqual(new Set(['fed-a', 'fed-b']));
    expect(ledger.entries.filter((e) => e.kind === 'contribution')).toHaveLength(2);
  });

  it('enforces a participant-wide cap across servers for the same data', async () => {
    const [p] = await participants(1, 34);
    const participantCap = { epsilon: roomForTwo(), view: 'worst-case' as const };
    const one = await startServer({ ...base, federationId: 'one', rounds: 1, stateDir: join(p.root, 'one'), dp: central });
    const two = await startServer({
      ...base,
      federationId: 'two',
      rounds: 2,
      stateDir: join(p.root, 'two'),
      dp: central,
      cohort: { ...base.cohort, maxAttemptsPerRound: 1 },
    });
    expect(two.server.serverFingerprint).not.toBe(one.server.serverFingerprint);
    const m1 = await join_(one.url, one.server.inviteCode, { ...p, participantCap });
    await one.server.run();
    m1.client.close();
    const m2 = await join_(two.url, two.server.inviteCode, { ...p, participantCap });
    await two.server.run();
    // One round with server one, one with server two; the third contribution would pass the participant-wide cap.
    expect(m2.events.filter((e) => e.type === 'update-sent').map((e) => e.type === 'update-sent' && e.round)).toEqual([1]);
    const declines = m2.events.filter((e) => e.type === 'declined');
    expect(declines.map((e) => e.type === 'declined' && [e.round, e.reason])).toEqual([[2, 'budget']]);
    expect(declines[0].type === 'declined' && declines[0].message).toMatch(/participant-wide worst-case ε/);
    // Other data is another budget.
    const [, other] = await participants(2, 35); // another client's share: other examples
    const three = await startServer({ ...base, federationId: 'three', rounds: 1, stateDir: join(p.root, 'three'), dp: central });
    const m3 = await join_(three.url, three.server.inviteCode, { ...p, data: other.data, participantCap });
    await three.server.run();
    expect(m3.events.some((e) => e.type === 'update-sent')).toBe(true);
  });
});
