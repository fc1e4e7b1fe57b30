import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { FederationClient, type ClientEvent } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { accountant } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { probeFederation, resolveInvite } from '../../src/app/probe.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { DropoutClient, type DropStage } from '../../src/cli/dropout-client.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';
import { EVENTS } from '../../src/core/protocol/messages.js';
import { stringMatching } from '../helpers/matchers.js';

/**
 * Secure aggregation end to end: a real aggregator on loopback, real clients (socket.io,
 * libsodium, tfjs training on MNIST digits). The same seeds give the same local updates, so a
 * secure round must land on the same global model as a plain round over the same survivors.
 */

let root = '';
let parts: Dataset[] = [];
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ({ root, parts } = await writeClientPartitions(5, 120, 11));
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
});

interface Run {
  global: Float32Array;
  serverFingerprint: string;
  completedRound: number;
  participants: number[];
  aborts: string[];
  events: ClientEvent[][];
  logs: Record<string, unknown>[];
  stateDirs: string[];
}

let runs = 0;

/** One federation of `clients` in-process clients (client i trains on parts[i] with seed i). */
async function federate(o: {
  clients: number[];
  secure: boolean;
  /** Clients that vanish from the secure round after a stage (simulated dropouts). */
  dropAfter?: Record<number, DropStage>;
  config?: Partial<ServerConfigInput>;
  /** Another member, driven by the test; it counts towards the clients the round waits for. */
  extra?: (server: Aggregator, url: string) => Promise<void>;
  /** Called once client `i` has joined, with the events it has seen so far. */
  joined?: (client: FederationClient, i: number, events: readonly ClientEvent[]) => void;
}): Promise<Run> {
  const dir = join(root, `run-${++runs}`);
  const logs: Record<string, unknown>[] = [];
  const server = await Aggregator.create({
    config: parseServerConfig({
      federationId: 'secure',
      port: 0,
      model: 'logreg',
      rounds: 1,
      seed: 5,
      training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
      cohort: {
        minClients: 2,
        minConnected: o.clients.length + (o.extra ? 1 : 0),
        expectedClients: o.clients.length,
        roundTimeoutSeconds: 30,
        waitForClientsSeconds: 30,
        maxAttemptsPerRound: 1,
      },
      stateDir: join(dir, 'server'),
      ...(o.secure && { secureAggregation: { enabled: true, stageTimeoutSeconds: 10 } }),
      ...o.config,
    }),
    logger: createLogger({ json: true, write: (line) => logs.push(JSON.parse(line) as (typeof logs)[number]) }),
  });
  const url = await server.listen();
  const aborts: string[] = [];
  const participants: number[] = [];
  server.on('abort', (a) => aborts.push(a.reason));
  server.on('round', (r) => participants.push(r.participants));
  const events: ClientEvent[][] = [];
  const stateDirs: string[] = [];
  const clients: FederationClient[] = [];
  try {
    for (const i of o.clients) {
      const stateDir = join(dir, `client-${i}`);
      const options = {
        serverUrl: url,
        invite: parseInvite(server.inviteCode),
        identity: await generateIdentity(),
        data: parts[i],
        stateDir,
        trainSeed: i,
      };
      const drop = o.dropAfter?.[i];
      const client = drop ? new DropoutClient(options, drop) : new FederationClient(options);
      const seen: ClientEvent[] = [];
      client.on('event', (e) => seen.push(e));
      events.push(seen);
      stateDirs.push(stateDir);
      await client.connect();
      o.joined?.(client, i, seen);
      clients.push(client);
    }
    await o.extra?.(server, url);
    const state = await server.run();
    // The signed end follows every round result or abort on each socket: once a member that stayed has it, it has them all.
    await Promise.all(clients.filter((_, k) => o.dropAfter?.[o.clients[k]] === undefined).map((c) => c.untilDone()));
    return {
      global: server.globalWeights,
      serverFingerprint: server.serverFingerprint,
      completedRound: state.completedRound,
      participants,
      aborts,
      events,
      logs,
      stateDirs,
    };
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('secure aggregation over real sockets', () => {
  let plainAll: Run;
  let plainWithoutFirst: Run;
  beforeAll(async () => {
    plainAll = await federate({ clients: [0, 1, 2, 3, 4], secure: false });
    plainWithoutFirst = await federate({ clients: [1, 2, 3, 4], secure: false });
  });

  it('lands on the same global model as plain averaging, while no update travels unmasked', async () => {
    const secure = await federate({ clients: [0, 1, 2, 3, 4], secure: true });
    expect(secure.completedRound).toBe(1);
    expect(secure.participants).toEqual([5]);
    const initialDistance = maxAbsDiff(plainAll.global, plainWithoutFirst.global);
    expect(initialDistance).toBeGreaterThan(1e-4); // the check below can tell survivors apart
    expect(maxAbsDiff(secure.global, plainAll.global)).toBeLessThan(1e-6);
    expect(secure.events.every((seen) => seen.some((e) => e.type === 'update-sent' && e.masked === true))).toBe(true);
    // The server logged the protocol's stages, and never a plain update.
    const stages = secure.logs.map((l) => l.event).filter((e) => typeof e === 'string' && e.startsWith('secure aggregation'));
    expect(stages).toEqual(
      expect.arrayContaining(['secure aggregation: keys advertised', 'secure aggregation: shares relayed', 'secure aggregation: masked inputs in']),
    );
  });

  it('finding 11: a client that drops after its masked input leaves only once the server has closed that stage with it', async () => {
    const run = await federate({ clients: [0, 1, 2, 3, 4], secure: true, dropAfter: { 0: 'masked-input' } });
    expect(run.participants).toEqual([5]);
    const events = run.logs.map((l) => l.event);
    const inputsIn = events.indexOf('secure aggregation: masked inputs in');
    const firstDisconnect = events.indexOf('client disconnected');
    expect(inputsIn).toBeGreaterThanOrEqual(0);
    // It trained first (it connected first), so a drop on the next tick would come before the other four answered.
    expect(firstDisconnect).toBeGreaterThan(inputsIn);
  });

  const dropouts: { stage: DropStage; survivors: number }[] = [
    { stage: 'start', survivors: 4 },
    { stage: 'advertise', survivors: 4 },
    { stage: 'share-keys', survivors: 4 },
    { stage: 'masked-input', survivors: 5 },
    { stage: 'consistency', survivors: 5 },
  ];
  for (const { stage, survivors } of dropouts) {
    it(`recovers the survivors' exact average when a client vanishes after ${stage}`, async () => {
      const run = await federate({ clients: [0, 1, 2, 3, 4], secure: true, dropAfter: { 0: stage } });
      expect(run.aborts).toEqual([]);
      expect(run.participants).toEqual([survivors]);
      const expected = survivors === 5 ? plainAll : plainWithoutFirst;
      expect(maxAbsDiff(run.global, expected.global)).toBeLessThan(1e-6);
    });
  }

  it('aborts cleanly below the threshold: no model change, every participant told why', async () => {
    const run = await federate({
      clients: [0, 1, 2, 3],
      secure: true,
      dropAfter: { 0: 'share-keys', 1: 'share-keys' },
      config: { secureAggregation: { enabled: true, threshold: 3, stageTimeoutSeconds: 10 } },
    });
    expect(run.completedRound).toBe(0);
    expect(run.aborts).toHaveLength(1);
    expect(run.aborts[0]).toMatch(/^secure aggregation stopped at masked-input/);
    const told = run.events.slice(2).map((seen) => seen.find((e) => e.type === 'round-abort'));
    expect(told.every((e) => e !== undefined)).toBe(true);
  });

  it('distributed DP: each client adds a discrete Gaussian share, and the sum carries the full z·C; the ledger records mode and t', async () => {
    const z = 0.5;
    const C = 0.5;
    const dp = { mode: 'distributed' as const, noiseMultiplier: z, clipNorm: C, delta: 1e-5 };
    // The near-noiseless reference clips the same way: central mode with the smallest server noise the accountants
    // allow (z = 0.01: std 0.001 on the mean, adding 0.02% to the 0.056 measured below).
    const reference = await federate({ clients: [0, 1, 2, 3, 4], secure: true, config: { dp: { ...dp, mode: 'central', noiseMultiplier: 0.01 } } });
    const noisy = await federate({ clients: [0, 1, 2, 3, 4], secure: true, config: { dp } });
    expect(noisy.participants).toEqual([5]);
    // t = ⌊2·5/3⌋+1 = 4 by default; each of 5 clients adds σ² = z²Δ²/t, so the sum's noise std is
    // z·C·√(5/4) and the mean (denominator: expected cohort 5) carries z·C·√(5/4)/5 per coordinate.
    const expectedStd = (z * C * Math.sqrt(5 / 4)) / 5;
    let sq = 0;
    for (let i = 0; i < noisy.global.length; i++) sq += (noisy.global[i] - reference.global[i]) ** 2;
    const std = Math.sqrt(sq / noisy.global.length);
    expect(std / expectedStd).toBeGreaterThan(0.95);
    expect(std / expectedStd).toBeLessThan(1.05);
    const ledger = await LedgerFile.open(ledgerPath(noisy.stateDirs[0], noisy.serverFingerprint));
    const contribution = ledger.entries.find((e) => e.kind === 'contribution');
    expect(contribution).toMatchObject({ mode: 'distributed', noiseMultiplier: z, survivorThreshold: 4, secureAggregation: true });
  });

  it('rejects a member that answers every stage with garbage or sends a plain update, and completes with the honest ones', async () => {
    const garbage: Record<string, unknown> = {
      advertise: { ok: true, advert: { clientId: 'c-someone-else', cipherPublicKey: 'AAAA', maskPublicKey: 'AAAA', signature: 'AAAA' } },
      'share-keys': { ok: true, bundle: { shares: 'none' } },
      'masked-input': { ok: true, sealed: new Uint8Array(64) },
      consistency: { ok: true },
      unmask: { ok: true, reveal: { selfMaskShares: [{ of: 'x', share: '!!' }], maskKeyShares: [] } },
    };
    const acks: unknown[] = [];
    const run = await federate({
      clients: [1, 2, 3, 4],
      secure: true,
      extra: async (server) => {
        const socket = await connectRaw(server.serverUrl);
        cleanup.push(() => void socket.disconnect());
        const hello = await sendHello(
          socket,
          await helloPayload(socket, await generateIdentity(), server.serverFingerprint, parseInvite(server.inviteCode).token),
        );
        expect(hello.ok).toBe(true);
        socket.on(EVENTS.roundStart, async (start: { federationId: string; round: number; attemptId: string }) => {
          const header = { federationId: start.federationId, round: start.round, attemptId: start.attemptId, clientId: hello.clientId };
          acks.push(await socket.timeout(5000).emitWithAck(EVENTS.update, header, new Uint8Array(100)));
        });
        socket.on(EVENTS.secagg, (request: { stage: string }, ack: (reply: unknown) => void) => ack(garbage[request.stage]));
      },
    });
    expect(run.aborts).toEqual([]);
    expect(run.participants).toEqual([4]);
    expect(maxAbsDiff(run.global, plainWithoutFirst.global)).toBeLessThan(1e-6);
    expect(acks).toEqual([expect.objectContaining({ accepted: false, reason: 'malformed', message: stringMatching(/secure aggregation/) })]);
    const rejected = run.logs.filter((l) => l.event === 'secure aggregation: message rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(1);
  });
});

describe('one answer per member in a secure attempt (finding 5)', () => {
  it('a member that declines after key agreement is not a survivor, even when its masked input follows', async () => {
    const declines: unknown[] = [];
    const plainWithoutFirst = await federate({ clients: [1, 2, 3, 4], secure: false });
    const run = await federate({
      clients: [0, 1, 2, 3, 4],
      secure: true,
      joined: (client, i, events) => {
        if (i !== 0) return;
        const joined = events.find((e) => e.type === 'joined');
        if (joined?.type !== 'joined') throw new Error('client 0 has not joined');
        // The client's own socket: the decline goes out just before the real client's masked input.
        const socket = (client as unknown as { socket: Socket }).socket;
        socket.onAny((event: string, request: { stage?: string; federationId: string; round: number; attemptId: string }) => {
          if (event !== EVENTS.secagg || request.stage !== 'masked-input') return;
          const decline = {
            federationId: request.federationId,
            round: request.round,
            attemptId: request.attemptId,
            clientId: joined.clientId,
            reason: 'consent',
            message: 'changed my mind',
          };
          socket.emit(EVENTS.decline, decline, (ack: unknown) => declines.push(ack));
        });
      },
    });
    expect(declines).toEqual([{ ok: true }]);
    expect(run.aborts).toEqual([]);
    expect(run.participants).toEqual([4]);
    expect(maxAbsDiff(run.global, plainWithoutFirst.global)).toBeLessThan(1e-6);
    expect(run.logs.find((l) => l.event === 'secure aggregation: message rejected')).toMatchObject({ reason: 'already-answered' });
    expect(run.logs.find((l) => l.event === 'round complete')).toMatchObject({ participants: 4, declined: 1 });
  });
});

describe("the app's view of a secure federation", () => {
  it('shows secure aggregation on, with distributed DP, before the person accepts', async () => {
    const previews: boolean[] = [];
    for (const secure of [true, false]) {
      const server = await Aggregator.create({
        config: parseServerConfig({
          federationId: 'secure-preview',
          port: 0,
          model: 'logreg',
          stateDir: join(root, `preview-${secure}`),
          dp: { mode: secure ? 'distributed' : 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
          cohort: { expectedClients: 2 },
          secureAggregation: { enabled: secure },
        }),
        logger: createLogger({ json: true, write: () => {} }),
      });
      const url = await server.listen();
      try {
        const preview = await probeFederation(resolveInvite(server.inviteCode, url), accountant('prv'));
        expect(preview.settings.dp.mode).toBe(secure ? 'distributed' : 'central');
        previews.push(preview.settings.secureAggregation);
      } finally {
        await server.close();
      }
    }
    expect(previews).toEqual([true, false]);
  });
});
