/**
 * What members are told and what their promised view charges (issue 11, findings 3–5; issue 10,
 * finding 8): a real aggregator on loopback, real FederationClients on real MNIST digits.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import type { Uniform } from '../../server/cohort.js';
import { FederationClient, type ClientEvent, type FederationClientOptions } from '../../src/client/federation-client.js';
import { getSodium, type Identity } from '../../src/core/crypto/index.js';
import { epsilonFor } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeParticipants } from '../helpers/federation-data.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function clientIdOf(identity: Identity): Promise<string> {
  const sodium = await getSodium();
  return 'c-' + sodium.to_hex(sodium.crypto_generichash(8, identity.signPublicKey, null));
}

/**
 * A cohort draw decided per member (the sampling itself is not under test here): the uniform is
 * asked once per connected member, in sorted id order (server/cohort.ts), so it reads the same
 * connected set from the server at the start of each draw.
 */
function drawing(server: () => Aggregator, take: (clientId: string, draw: number) => boolean): Uniform {
  let queue: string[] = [];
  let draw = -1;
  return () => {
    if (queue.length === 0) {
      queue = server()
        .status()
        .members.filter((m) => m.connected)
        .map((m) => m.clientId)
        .sort();
      draw += 1;
    }
    return take(queue.shift()!, draw) ? 0 : 0.999;
  };
}

async function startServer(config: ServerConfigInput, uniform?: Uniform) {
  const server = await Aggregator.create({ config: parseServerConfig(config), logger: silentLogger, uniform });
  const url = await server.listen();
  cleanup.push(() => server.close());
  return { server, url };
}

function startClient(url: string, inviteCode: string, options: Omit<FederationClientOptions, 'serverUrl' | 'invite'>) {
  const client = new FederationClient({ serverUrl: url, invite: parseInvite(inviteCode), trainSeed: 1, ...options });
  const events: ClientEvent[] = [];
  client.on('event', (e) => events.push(e));
  cleanup.push(() => client.close());
  return { client, events };
}

function socketOf(client: FederationClient): Socket {
  return (client as unknown as { socket: Socket }).socket;
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
};

describe('round announcements: the promised view charges each attempt with its own settings', () => {
  it('follows a federation restarted at q = 0.9 for a member joined at q = 0.05 and never selected; a changed q is a new consent', async () => {
    const [a, b, c] = await participants(3, 21);
    const stateDir = join(a.root, 'server');
    const dp = { mode: 'central' as const, noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 };
    const first = await startServer({
      ...base,
      federationId: 'restarted',
      rounds: 4,
      stateDir,
      dp,
      cohort: { samplingRate: 0.05, expectedClients: 0.15, minClients: 1 },
    });
    const invite = first.server.inviteCode;
    const port = Number(new URL(first.url).port);
    const joinedEarly = startClient(first.url, invite, b);
    await joinedEarly.client.connect();
    await first.server.close();

    // Same server, same state, restarted at q = 0.9. B reconnects on its own; A and C join now.
    const bId = await clientIdOf(b.identity);
    const second = await startServer(
      {
        ...base,
        port,
        federationId: 'restarted',
        rounds: 4,
        stateDir,
        dp,
        cohort: { samplingRate: 0.9, expectedClients: 2.7, minClients: 2, minConnected: 3, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      },
      drawing(
        () => restarted,
        (id, draw) => id !== bId || draw >= 3,
      ), // B sits out rounds 1–3 and is drawn in round 4
    );
    const restarted = second.server; // read by the draw above, which runs only once rounds start
    const late = [a, c].map((p) => startClient(second.url, invite, p));
    await Promise.all(late.map((l) => l.client.connect()));
    const state = await second.server.run();
    expect(state.completedRound).toBe(4);
    await new Promise((r) => setTimeout(r, 300));

    const fingerprint = second.server.serverFingerprint;
    const ledger = await LedgerFile.open(ledgerPath(b.stateDir, fingerprint));
    const announced = ledger.entries.filter((e) => e.kind === 'announced');
    expect(announced.map((e) => e.round)).toEqual([1, 2, 3, 4]);
    expect(announced.every((e) => e.kind === 'announced' && e.samplingRate === 0.9 && e.noiseMultiplier === 2)).toBe(true);
    // B consented at q = 0.05: drawn at q = 0.9 it declines, for consent.
    const declines = joinedEarly.events.filter((e) => e.type === 'declined');
    expect(declines.map((e) => e.type === 'declined' && [e.round, e.reason])).toEqual([[4, 'consent']]);
    expect(declines[0].type === 'declined' && declines[0].message).toMatch(/q=0\.9.*you agreed to .*q=0\.05/);
    // B's promised ε is the server's ε (the same records, the same PRV accountant); today it was 14× under.
    const serverEpsilon = epsilonFor(state.accountant, dp.delta, 'prv').epsilon;
    const lastPrivacy = joinedEarly.events.filter((e) => e.type === 'privacy').at(-1);
    expect(lastPrivacy?.type === 'privacy' && lastPrivacy.promised).toBeCloseTo(serverEpsilon, 6);
    expect(serverEpsilon).toBeGreaterThan(3);
  });

  it('charges an attempt whose result arrives while the member is disconnected', async () => {
    const [a, b] = await participants(2, 22);
    const aId = await clientIdOf(a.identity);
    const { server, url } = await startServer(
      {
        ...base,
        federationId: 'blinking',
        rounds: 2,
        stateDir: join(a.root, 'server'),
        dp: { mode: 'central', noiseMultiplier: 1.5, clipNorm: 1, delta: 1e-5 },
        cohort: { samplingRate: 0.5, expectedClients: 1, minClients: 1, minConnected: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      },
      drawing(
        () => aggregator,
        (id) => id === aId,
      ), // only A is ever drawn
    );
    const aggregator = server; // read by the draw above, which runs only once rounds start
    const [ca, cb] = [a, b].map((p) => startClient(url, server.inviteCode, p));
    await Promise.all([ca.client.connect(), cb.client.connect()]);
    // While A trains round 1, B drops its connection and misses the result; it is back for round 2's draw.
    ca.client.on('event', (e) => {
      if (e.type === 'round-start' && e.round === 1) socketOf(cb.client).disconnect();
    });
    server.on('round', (r) => {
      if (r.round === 1) socketOf(cb.client).connect();
    });
    const state = await server.run();
    expect(state.completedRound).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    // B saw no round-1 result, yet round 1 is charged: the announcement was the charge.
    const bResults = cb.events.filter((e) => e.type === 'round-result').map((e) => e.type === 'round-result' && e.result.round);
    expect(bResults).not.toContain(1);
    const bLedger = await LedgerFile.open(ledgerPath(b.stateDir, server.serverFingerprint));
    expect(bLedger.entries.filter((e) => e.kind === 'announced').map((e) => e.round)).toEqual([1, 2]);
    expect(bLedger.entries.filter((e) => e.kind === 'contribution')).toHaveLength(0);
    // A contributed to both attempts it was announced: charged once each in the promised view.
    const aLedger = await LedgerFile.open(ledgerPath(a.stateDir, server.serverFingerprint));
    const aAnnounced = aLedger.entries.filter((e) => e.kind === 'announced');
    const aContributed = aLedger.entries.filter((e) => e.kind === 'contribution');
    expect(aAnnounced.map((e) => e.kind === 'announced' && e.attemptId)).toEqual(aContributed.map((e) => e.kind === 'contribution' && e.attemptId));
    const promised = ca.events.filter((e) => e.type === 'privacy').at(-1);
    expect(promised?.type === 'privacy' && promised.promised).toBeCloseTo(epsilonFor(state.accountant, 1e-5, 'prv').epsilon, 6);
  });

  it("re-sends the open attempt's announcement to a member that connects while it runs", async () => {
    const [a, late] = await participants(2, 23);
    const { server, url } = await startServer({
      ...base,
      training: { epochs: 5, batchSize: 10, learningRate: 0.05 }, // A trains long enough for the late member to connect
      federationId: 'late',
      rounds: 1,
      stateDir: join(a.root, 'server'),
      dp: { mode: 'central', noiseMultiplier: 1.5, clipNorm: 1, delta: 1e-5 },
      cohort: { samplingRate: 1, expectedClients: 1, minClients: 1, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
    });
    const ca = startClient(url, server.inviteCode, a);
    const cl = startClient(url, server.inviteCode, late);
    await ca.client.connect();
    let joinedDuringRound = null as Promise<void> | null; // set in the event handler below, which narrowing does not see
    ca.client.on('event', (e) => {
      if (e.type === 'round-start' && e.round === 1) joinedDuringRound = cl.client.connect();
    });
    await server.run();
    await joinedDuringRound;
    await new Promise((r) => setTimeout(r, 300));
    const lateLedger = await LedgerFile.open(ledgerPath(late.stateDir, server.serverFingerprint));
    const aLedger = await LedgerFile.open(ledgerPath(a.stateDir, server.serverFingerprint));
    const attempt = aLedger.entries.find((e) => e.kind === 'announced');
    expect(lateLedger.entries.filter((e) => e.kind === 'announced')).toEqual([
      expect.objectContaining({ round: 1, attemptId: attempt?.kind === 'announced' && attempt.attemptId }),
    ]);
  });
});
