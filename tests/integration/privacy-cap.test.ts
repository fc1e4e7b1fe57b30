import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { FederationClient, type ClientEvent, type PrivacyCap } from '../../src/client/federation-client.js';
import { generateIdentity, type Identity } from '../../src/core/crypto/index.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { accountant, epsilonFor } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface Participant {
  data: Dataset;
  identity: Identity;
  stateDir: string;
  cap?: PrivacyCap;
}

/** Invite codes by state folder: a restarted server makes no new invite (tokens are stored hashed). */
const invites = new Map<string, string>();

async function federation(config: ServerConfigInput, participants: Participant[]) {
  const server = await Aggregator.create({ config: parseServerConfig(config), logger: silentLogger });
  const stateDir = String(config.stateDir);
  if (!invites.has(stateDir)) invites.set(stateDir, server.inviteCode);
  const inviteCode = invites.get(stateDir)!;
  const url = await server.listen();
  cleanup.push(() => server.close());
  const events: ClientEvent[][] = participants.map(() => []);
  const clients = await Promise.all(
    participants.map(async (p, i) => {
      const client = new FederationClient({ serverUrl: url, invite: parseInvite(inviteCode), accountant: accountant('rdp'), trainSeed: i, ...p });
      client.on('event', (e) => events[i].push(e));
      await client.connect();
      return client;
    }),
  );
  cleanup.push(() => clients.forEach((c) => c.close()));
  const state = await server.run();
  await new Promise((r) => setTimeout(r, 200));
  clients.forEach((c) => c.close());
  await server.close();
  return { state, events, fingerprint: server.serverFingerprint };
}

describe("the participant's own privacy cap and consent", () => {
  it('declines exactly the rounds that would take its worst-case ε past the cap, and the round goes on', async () => {
    const { root, parts } = await writeClientPartitions(3, 150, 12);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const z = 2;
    const delta = 1e-5;
    const worstAfter = (k: number) =>
      accountant('rdp').epsilon(
        Array.from({ length: k }, () => ({ noiseMultiplier: z, samplingRate: 1 })),
        delta,
      );
    const cap = (worstAfter(2) + worstAfter(3)) / 2; // room for exactly two rounds
    const participants: Participant[] = await Promise.all(
      parts.map(async (data, i) => ({
        data,
        identity: await generateIdentity(),
        stateDir: join(root, `state-${i}`),
        ...(i === 0 && { cap: { epsilon: cap, view: 'worst-case' as const } }),
      })),
    );
    const { state, events, fingerprint } = await federation(
      {
        federationId: 'capped',
        port: 0,
        model: 'logreg',
        rounds: 4,
        seed: 1,
        cohort: { minClients: 2, expectedClients: 3, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
        dp: { mode: 'central', noiseMultiplier: z, clipNorm: 1, delta },
        stateDir: join(root, 'server'),
      },
      participants,
    );
    // After its budget decline in round 3 the capped member is out of budget: round 4 is drawn without it (server/availability.ts).
    expect(state.results.map((r) => [r.participants, r.declined])).toEqual([
      [3, 0],
      [3, 0],
      [2, 1],
      [2, 0],
    ]);
    const declined = events[0].filter((e) => e.type === 'declined');
    expect(declined.map((e) => [e.round, e.reason])).toEqual([[3, 'budget']]);
    expect(declined[0].type === 'declined' && declined[0].message).toMatch(/above your cap/);

    const ledger = await LedgerFile.open(ledgerPath(participants[0].stateDir, fingerprint));
    const contributed = ledger.entries.filter((e) => e.kind === 'contribution').map((e) => e.round);
    expect(contributed).toEqual([1, 2]);
    // Independently: each contribution kept the worst case within the cap, the next one would not have.
    expect(worstAfter(contributed.length)).toBeLessThanOrEqual(cap);
    expect(worstAfter(contributed.length + 1)).toBeGreaterThan(cap);
    const last = events[0].filter((e) => e.type === 'privacy').at(-1);
    expect(last?.type === 'privacy' && last.worstCase).toBeCloseTo(worstAfter(2), 10);
    // Uncapped participants contributed to every round.
    const other = await LedgerFile.open(ledgerPath(participants[1].stateDir, fingerprint));
    expect(other.entries.filter((e) => e.kind === 'contribution')).toHaveLength(4);
  });

  it('declines a round whose noise differs from what the participant consented to', async () => {
    const { root, parts } = await writeClientPartitions(1, 100, 13);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const participant: Participant = { data: parts[0], identity: await generateIdentity(), stateDir: join(root, 'state') };
    const config = {
      federationId: 'consent',
      port: 0,
      model: 'logreg' as const,
      seed: 1,
      cohort: { minClients: 1, expectedClients: 1, roundTimeoutSeconds: 30, waitForClientsSeconds: 30, maxAttemptsPerRound: 2 },
      stateDir: join(root, 'server'),
    };
    const first = await federation({ ...config, rounds: 1, dp: { mode: 'central', noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 } }, [participant]);
    expect(first.state.completedRound).toBe(1);
    // The operator restarts with less noise: the participant never agreed to that.
    const second = await federation({ ...config, rounds: 2, dp: { mode: 'central', noiseMultiplier: 0.5, clipNorm: 1, delta: 1e-5 } }, [participant]);
    // With DP on the drawn round is released whatever arrived (here pure noise: issue 11), then the federation stops (q = 1, all declined).
    expect(second.state.completedRound).toBe(2);
    expect(second.state.results.map((r) => [r.participants, r.declined])).toEqual([
      [1, 0],
      [0, 1],
    ]);
    const declines = second.events[0].filter((e) => e.type === 'declined');
    expect(declines.length).toBeGreaterThan(0);
    expect(declines.every((e) => e.type === 'declined' && e.reason === 'consent' && /z=0.5/.test(e.message))).toBe(true);
    const ledger = await LedgerFile.open(ledgerPath(participant.stateDir, second.fingerprint));
    expect(ledger.entries.filter((e) => e.kind === 'contribution')).toHaveLength(1);
  });

  it('declines a round without secure aggregation after joining a federation that had it', async () => {
    const { root, parts } = await writeClientPartitions(2, 100, 15);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const participants: Participant[] = await Promise.all(
      parts.map(async (data, i) => ({ data, identity: await generateIdentity(), stateDir: join(root, `state-${i}`) })),
    );
    const config = {
      federationId: 'secure-consent',
      port: 0,
      model: 'logreg' as const,
      seed: 1,
      cohort: { minClients: 2, expectedClients: 2, roundTimeoutSeconds: 30, waitForClientsSeconds: 30, maxAttemptsPerRound: 1 },
      dp: { mode: 'central' as const, noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
      stateDir: join(root, 'server'),
    };
    const first = await federation({ ...config, rounds: 1, secureAggregation: { enabled: true } }, participants);
    expect(first.state.results.map((r) => r.participants)).toEqual([2]);
    // The operator restarts without secure aggregation: the server would open each update.
    const second = await federation({ ...config, rounds: 2 }, participants);
    // Released as pure noise (DP on, issue 11), then stopped: every participant declined with q = 1.
    expect(second.state.completedRound).toBe(2);
    expect(second.state.results.map((r) => [r.participants, r.declined])).toEqual([
      [2, 0],
      [0, 2],
    ]);
    for (const events of second.events) {
      const declines = events.filter((e) => e.type === 'declined');
      expect(declines.map((e) => e.type === 'declined' && e.reason)).toEqual(['consent']);
      expect(declines[0].type === 'declined' && declines[0].message).toMatch(/you agreed to secure aggregation/);
    }
    const ledger = await LedgerFile.open(ledgerPath(participants[0].stateDir, second.fingerprint));
    expect(ledger.entries.filter((e) => e.kind === 'contribution').map((e) => e.kind === 'contribution' && e.secureAggregation)).toEqual([true]);
  });

  it("stops the federation before a round that would take the federation's ε past maxEpsilon", async () => {
    const { root, parts } = await writeClientPartitions(2, 100, 14);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const z = 2;
    const oneRound = epsilonFor([{ noiseMultiplier: z, samplingRate: 1 }], 1e-5, 'prv').epsilon;
    const twoRounds = epsilonFor(
      [
        { noiseMultiplier: z, samplingRate: 1 },
        { noiseMultiplier: z, samplingRate: 1 },
      ],
      1e-5,
      'prv',
    ).epsilon;
    const participants: Participant[] = await Promise.all(
      parts.map(async (data, i) => ({ data, identity: await generateIdentity(), stateDir: join(root, `state-${i}`) })),
    );
    const { state } = await federation(
      {
        federationId: 'budgeted',
        port: 0,
        model: 'logreg',
        rounds: 5,
        seed: 1,
        maxEpsilon: (oneRound + twoRounds) / 2,
        cohort: { minClients: 2, expectedClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
        dp: { mode: 'central', noiseMultiplier: z, clipNorm: 1, delta: 1e-5 },
        stateDir: join(root, 'server'),
      },
      participants,
    );
    expect(state.completedRound).toBe(1);
    expect(state.results[0].epsilon).toBeCloseTo(oneRound, 10);
  });
});
