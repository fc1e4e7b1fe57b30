/**
 * Liveness and the end of a federation (issue 13, findings 2, 3, 6, 7, 10): a member that is out of
 * budget or paused is not drawn, attempts back off, the federation's end is one signed truth with a
 * reason, and the server keeps serving its status after the end. A real aggregator on loopback,
 * real FederationClients (and the real `covey join` and `covey server`) on real MNIST digits.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import type { Logger } from '../../server/logger.js';
import type { FederationStatus } from '../../server/status.js';
import { FederationClient, type ClientEvent, type FederationClientOptions } from '../../src/client/federation-client.js';
import { sitOutWhenOutOfBudget } from '../../src/client/availability.js';
import { accountant, ledgerEpsilon } from '../../src/core/privacy/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { EVENTS } from '../../src/core/protocol/messages.js';
import { signMessage } from '../../src/core/protocol/signed.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { probeFederation } from '../../src/app/probe.js';
import { AppCore } from '../../src/app/core.js';
import { createDispatcher } from '../../src/app/dispatch.js';
import { writeParticipants } from '../helpers/federation-data.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';
import { exitCode, spawnCovey, type CoveyProcess } from '../helpers/processes.js';

const prv = accountant('prv');
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

type LogLine = { level: string; event: string; fields: Record<string, unknown> };

async function startServer(config: ServerConfigInput) {
  const lines: LogLine[] = [];
  const logger: Logger = (level, event, fields = {}) => lines.push({ level, event, fields });
  const server = await Aggregator.create({ config: parseServerConfig(config), logger });
  const url = await server.listen();
  cleanup.push(() => server.close());
  return { server, url, lines };
}

async function member(url: string, inviteCode: string, options: Omit<FederationClientOptions, 'serverUrl' | 'invite'>) {
  const client = new FederationClient({ serverUrl: url, invite: parseInvite(inviteCode), trainSeed: 1, ...options });
  const events: ClientEvent[] = [];
  client.on('event', (e) => events.push(e));
  // What `covey join` and the app do: a budget decline tells the server this member is out of budget.
  sitOutWhenOutOfBudget(client);
  cleanup.push(() => client.close());
  await client.connect();
  return { client, events };
}

async function participants(count: number, seed: number) {
  const { root, participants } = await writeParticipants(count, seed);
  cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  return participants;
}

/** A member that says hello and then never answers a round (holds an attempt open until its deadline). */
async function silentMember(url: string, inviteCode: string) {
  const socket = await connectRaw(url);
  cleanup.push(() => void socket.disconnect());
  const invite = parseInvite(inviteCode);
  const identity = await generateIdentity();
  const reply = await sendHello(socket, await helloPayload(socket, identity, invite.fingerprintHex, invite.token));
  expect(reply.ok).toBe(true);
  return { socket, identity, clientId: reply.clientId! };
}

async function status(server: Aggregator): Promise<FederationStatus> {
  const res = await fetch(`${server.serverUrl}/api/status`, { headers: { Authorization: `Bearer ${server.operatorToken}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as FederationStatus;
}

const base = {
  port: 0,
  model: 'logreg' as const,
  seed: 1,
  training: { epochs: 1, batchSize: 50, learningRate: 0.05 },
};
const Z = 2;
const central = { mode: 'central' as const, noiseMultiplier: Z, clipNorm: 1, delta: 1e-5 };

function count(events: ClientEvent[], type: ClientEvent['type']): number {
  return events.filter((e) => e.type === type).length;
}

describe('a member out of budget is not drawn, and costs the others at most one round', () => {
  for (const dp of ['central', 'off'] as const) {
    it(`2 members, DP ${dp}: one declines for its cap; the other is charged once, and the federation ends saying why`, { timeout: 120_000 }, async () => {
      const [a, b] = await participants(2, dp === 'central' ? 31 : 32);
      const { server, url, lines } = await startServer({
        ...base,
        federationId: `budget-${dp}`,
        rounds: 4,
        stateDir: join(a.root, 'server'),
        // q = 1, both members needed: under the old loop the decline made the round retry 10 times.
        cohort: { minClients: 2, expectedClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 2, retryBackoff: { initialSeconds: 0.1 } },
        ...(dp === 'central' && { dp: central }),
      });
      const oneRound = prv.epsilon([{ noiseMultiplier: Z, samplingRate: 1 }], 1e-5);
      const A = await member(url, server.inviteCode, { identity: a.identity, data: a.data, stateDir: a.stateDir });
      // DP on: a cap below one round's cost; DP off: every round costs ∞, so any finite cap declines.
      const B = await member(url, server.inviteCode, {
        identity: b.identity,
        data: b.data,
        stateDir: b.stateDir,
        cap: { epsilon: dp === 'central' ? oneRound / 2 : 1000, view: 'worst-case' },
      });
      await server.waitForConnected(2, 30_000);
      const state = await server.run();
      const end = await A.client.untilDone();

      // One attempt in all: B declined it, said it was out of budget, and was never drawn again.
      const view = await status(server);
      expect(view.members.map((m) => m.availability).sort()).toEqual(['available', 'out-of-budget']);
      expect(count(B.events, 'declined')).toBe(1);
      expect(count(B.events, 'round-start')).toBe(0);
      expect(count(A.events, 'round-start')).toBe(1);
      expect(count(A.events, 'update-sent')).toBe(1);
      const aLedger = await LedgerFile.open(ledgerPath(a.stateDir, server.serverFingerprint));
      expect(aLedger.entries.filter((e) => e.kind === 'contribution')).toHaveLength(1);
      if (dp === 'central') {
        // A's ε rose by exactly one round's cost, in both views (q = 1: the promised view equals the worst case).
        expect(ledgerEpsilon(aLedger.entries, 'worst-case', 1e-5, prv)).toBeCloseTo(oneRound, 10);
        expect(ledgerEpsilon(aLedger.entries, 'promised', 1e-5, prv)).toBeCloseTo(oneRound, 10);
        // DP on releases the fixed-denominator estimate whatever the cohort: round 1 completed with A alone.
        expect(state.completedRound).toBe(1);
        expect(view.abortedAttempts).toEqual([]);
      } else {
        // DP off: 1 of the minimum 2 updates is not averaged; the attempt is aborted (and shown), never retried.
        expect(state.completedRound).toBe(0);
        expect(view.abortedAttempts).toMatchObject([{ round: 1, kind: 'too-few-updates', cohort: 2 }]);
        expect(view.abortedAttempts[0].reason).toMatch(/1 of 2 updates arrived, 1 declined/);
      }

      // The end is one truth: stopped, with the reason, in the signed done, the log and the status.
      const rounds = state.completedRound;
      expect(end).toEqual({
        outcome: 'stopped',
        reason: 'members-out-of-budget',
        message: '1 member(s) are out of their privacy budget; 1 other member(s) connected, 2 needed',
        rounds,
        of: 4,
      });
      expect(await B.client.untilDone()).toEqual(end);
      expect(view.end).toEqual(end);
      expect(view.phase).toBe('done');
      expect(lines.some((l) => l.event === 'federation complete')).toBe(false);
      expect(lines.filter((l) => l.event === 'federation stopped')).toEqual([
        { level: 'warn', event: 'federation stopped', fields: { rounds, of: 4, reason: 'members-out-of-budget', message: end.message } },
      ]);
    });
  }

  it('3 members: the federation goes on without the one out of budget, which declines once', { timeout: 120_000 }, async () => {
    const [a, b, c] = await participants(3, 33);
    const { server, url } = await startServer({
      ...base,
      federationId: 'budget-three',
      rounds: 3,
      stateDir: join(a.root, 'server'),
      cohort: { minClients: 2, expectedClients: 3, roundTimeoutSeconds: 60, waitForClientsSeconds: 30 },
      dp: central,
    });
    const oneRound = prv.epsilon([{ noiseMultiplier: Z, samplingRate: 1 }], 1e-5);
    const A = await member(url, server.inviteCode, { identity: a.identity, data: a.data, stateDir: a.stateDir });
    const B = await member(url, server.inviteCode, {
      identity: b.identity,
      data: b.data,
      stateDir: b.stateDir,
      cap: { epsilon: oneRound * 1.2, view: 'worst-case' },
    });
    const C = await member(url, server.inviteCode, { identity: c.identity, data: c.data, stateDir: c.stateDir });
    await server.waitForConnected(3, 30_000);
    const state = await server.run();
    expect(state.completedRound).toBe(3);
    expect(await A.client.untilDone()).toMatchObject({ outcome: 'completed', reason: null, rounds: 3, of: 3 });
    // B took part in round 1, declined round 2 (its cap), and was not drawn for round 3.
    expect(count(B.events, 'update-sent')).toBe(1);
    expect(count(B.events, 'declined')).toBe(1);
    expect(count(B.events, 'round-start')).toBe(1);
    expect(count(A.events, 'update-sent')).toBe(3);
    expect(count(C.events, 'update-sent')).toBe(3);
    expect((await status(server)).abortedAttempts).toEqual([]);
  });
});

describe('backoff, the end of a stopped federation, and the server after the end', () => {
  it('attempts back off; a stopped federation is never called complete; late members and the preview learn how it ended', { timeout: 120_000 }, async () => {
    const [p, late] = await participants(2, 34);
    const backoff = { initialSeconds: 0.4, maxSeconds: 0.6 };
    const { server, url, lines } = await startServer({
      ...base,
      federationId: 'stopped',
      rounds: 2,
      stateDir: join(p.root, 'server'),
      cohort: { minClients: 1, roundTimeoutSeconds: 1, waitForClientsSeconds: 30, maxAttemptsPerRound: 3, retryBackoff: backoff },
    });
    // A paused member is connected but never drawn: it only hears how the federation ends.
    const paused = await member(url, server.inviteCode, { identity: p.identity, data: p.data, stateDir: p.stateDir });
    expect(await paused.client.setAvailability('paused')).toBe(true);
    await silentMember(url, server.inviteCode);
    const state = await server.run();

    expect(count(paused.events, 'round-start')).toBe(0);
    const end = await paused.client.untilDone();
    expect(end).toEqual({ outcome: 'stopped', reason: 'attempts-exhausted', message: 'round 1 did not complete in 3 attempts', rounds: 0, of: 2 });
    expect(state.end).toEqual(end);
    expect(lines.some((l) => l.event === 'federation complete')).toBe(false);
    expect(lines.find((l) => l.event === 'federation stopped')?.fields).toMatchObject({ rounds: 0, of: 2, reason: 'attempts-exhausted' });

    // The server still serves its status after the end: every aborted attempt, with its reason.
    const view = await status(server);
    expect(view.phase).toBe('done');
    expect(view.end).toEqual(end);
    expect(view.abortedAttempts.map((x) => [x.round, x.kind, x.cohort])).toEqual([
      [1, 'too-few-updates', 1],
      [1, 'too-few-updates', 1],
      [1, 'too-few-updates', 1],
    ]);
    expect(view.abortedAttempts[0].reason).toBe('0 of 1 updates arrived: 0 of the minimum 1 (DP off)');
    // Backoff: the second attempt is drawn at least 0.4 s after the first ended, the third at least 0.6 s (the bound).
    const gaps = [1, 2].map((i) => Date.parse(view.abortedAttempts[i].drawnAt) - Date.parse(view.abortedAttempts[i - 1].abortedAt));
    expect(gaps[0]).toBeGreaterThanOrEqual(400);
    expect(gaps[1]).toBeGreaterThanOrEqual(600);

    // A member that connects after the end is told at once, signed; the signed preview says it too.
    const after = await member(url, server.inviteCode, { identity: late.identity, data: late.data, stateDir: late.stateDir });
    expect(await after.client.untilDone()).toEqual(end);
    const preview = await probeFederation({ invite: parseInvite(server.inviteCode), serverUrl: url }, prv);
    expect(preview.ended).toEqual({ outcome: 'stopped', message: end.message, rounds: 0, of: 2 });
  });

  it('availability messages must be signed by the member itself, and newer than its last word', async () => {
    const [p] = await participants(1, 35);
    const { server, url } = await startServer({ ...base, federationId: 'signed-word', rounds: 1, stateDir: join(p.root, 'server') });
    const { socket, identity, clientId } = await silentMember(url, server.inviteCode);
    const stranger = await generateIdentity();
    const body = { federationId: 'signed-word', clientId: 'someone', status: 'paused' as const, once: false, at: Date.now() };
    const forged = await signMessage(stranger, 'availability', body);
    expect(await socket.timeout(5000).emitWithAck(EVENTS.availability, forged)).toEqual({
      ok: false,
      message: "member-availability not signed by the member's key",
    });
    expect(await socket.timeout(5000).emitWithAck(EVENTS.availability, { ...body, signature: undefined })).toMatchObject({ ok: false });
    expect((await status(server)).members.map((m) => m.availability)).toEqual(['available']);
    // Its own word is taken; a word no newer than the last is not.
    const own = await signMessage(identity, 'availability', { ...body, clientId });
    expect(await socket.timeout(5000).emitWithAck(EVENTS.availability, own)).toEqual({ ok: true });
    expect((await status(server)).members.map((m) => m.availability)).toEqual(['paused']);
    const stale = await signMessage(identity, 'availability', { ...body, clientId, status: 'available' });
    expect(await socket.timeout(5000).emitWithAck(EVENTS.availability, stale)).toMatchObject({ ok: false });
    expect((await status(server)).members.map((m) => m.availability)).toEqual(['paused']);
  });

  it(
    'one round at a time: a member available once is drawn once, and one that goes away is waited for only manualApprovalSeconds',
    { timeout: 120_000 },
    async () => {
      const [a, m] = await participants(2, 38);
      const { server, url } = await startServer({
        ...base,
        federationId: 'manual',
        rounds: 3,
        stateDir: join(a.root, 'server'),
        // Without its own short deadline, a manual member gone mid-round would hold round 1 for 600 s (past this test's timeout).
        cohort: { minClients: 1, roundTimeoutSeconds: 600, waitForClientsSeconds: 30, manualApprovalSeconds: 1 },
      });
      const A = await member(url, server.inviteCode, { identity: a.identity, data: a.data, stateDir: a.stateDir });
      const M = await member(url, server.inviteCode, { identity: m.identity, data: m.data, stateDir: m.stateDir });
      expect(await M.client.setAvailability('available', { once: true })).toBe(true);
      // A one-round-at-a-time member approved by hand that leaves as soon as its round starts.
      const gone = await silentMember(url, server.inviteCode);
      const body = { federationId: 'manual', clientId: gone.clientId, status: 'available' as const, once: true, at: Date.now() };
      expect(await gone.socket.timeout(5000).emitWithAck(EVENTS.availability, await signMessage(gone.identity, 'availability', body))).toEqual({ ok: true });
      gone.socket.once(EVENTS.roundStart, () => gone.socket.disconnect());
      const state = await server.run();
      expect(state.completedRound).toBe(3);
      // Round 1 drew all three; the one that left was counted as declined after 1 s, not waited for.
      expect(state.results.map((r) => [r.participants, r.declined])).toEqual([
        [2, 1],
        [1, 0],
        [1, 0],
      ]);
      // M took part in its one round, then was paused by the server, never drawn again until it says otherwise.
      expect(count(M.events, 'round-start')).toBe(1);
      expect(count(A.events, 'round-start')).toBe(3);
      const view = await status(server);
      expect(
        view.members
          .filter((x) => x.connected)
          .map((x) => x.availability)
          .sort(),
      ).toEqual(['available', 'paused']);
    },
  );
});

describe('covey server and covey join at the end', () => {
  const spawned: CoveyProcess[] = [];
  afterAll(() => {
    for (const s of spawned) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });

  it('without --exit-when-done the server keeps serving after a stopped federation; covey join says stopped and exits 3', { timeout: 180_000 }, async () => {
    const [p] = await participants(1, 36);
    const stateDir = join(p.root, 'cli-server');
    const configPath = join(p.root, 'server.json');
    const cohort = { minClients: 1, roundTimeoutSeconds: 1, waitForClientsSeconds: 60, maxAttemptsPerRound: 1 };
    await writeFile(configPath, JSON.stringify({ ...base, federationId: 'cli-end', rounds: 2, stateDir, cohort }));
    const server = spawnCovey(['server', '--config', configPath]);
    spawned.push(server);
    const [, url, code] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 60_000);
    await silentMember(url, code);
    await server.waitForLine(/^federation stopped after 0 of 2 rounds: round 1 did not complete in 1 attempts$/, 60_000);
    await server.waitForLine(/^Still serving the dashboard \(read-only\)/, 10_000);
    expect(server.output()).not.toMatch(/federation complete/);
    const token = (await readFile(join(stateDir, 'operator-token'), 'utf8')).trim();
    const res = await fetch(`${url}/api/status`, { headers: { Authorization: `Bearer ${token}` } });
    const view = (await res.json()) as FederationStatus;
    expect(view.end).toMatchObject({ outcome: 'stopped', reason: 'attempts-exhausted' });
    expect(view.abortedAttempts).toHaveLength(1);

    // A participant that joins now is told how it ended, in words, and exits 3 (stopped early).
    const join_ = spawnCovey(['join', url, '--invite', code, '--data', 'mnist', '--state-dir', p.stateDir]);
    spawned.push(join_);
    expect(await exitCode(join_, 90_000), join_.output()).toBe(3);
    expect(join_.output()).toMatch(/^federation stopped after 0 of 2 rounds: round 1 did not complete in 1 attempts$/m);
    expect(server.child.exitCode).toBe(null);
    server.child.kill('SIGTERM');
    expect(await exitCode(server, 30_000), server.output()).toBe(0);
  });

  it('with --exit-when-done a stopped federation exits 3', { timeout: 120_000 }, async () => {
    const [p] = await participants(1, 37);
    const configPath = join(p.root, 'server.json');
    const cohort = { minClients: 1, roundTimeoutSeconds: 1, waitForClientsSeconds: 60, maxAttemptsPerRound: 1 };
    await writeFile(configPath, JSON.stringify({ ...base, federationId: 'cli-exit', rounds: 1, stateDir: join(p.root, 'cli-exit'), cohort }));
    const server = spawnCovey(['server', '--config', configPath, '--exit-when-done']);
    spawned.push(server);
    const [, url, code] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 60_000);
    await silentMember(url, code);
    expect(await exitCode(server, 60_000), server.output()).toBe(3);
    expect(server.output()).toMatch(/^federation stopped after 0 of 1 rounds: round 1 did not complete in 1 attempts$/m);
  });
});

describe('the app', () => {
  /** An app on its own state folder, joined to `server` with the embedded digits and a generous worst-case cap. */
  async function joinedApp(server: { inviteLink: string }, root: string, options: { endWatchIntervalMs?: number } = {}) {
    const core = await AppCore.open({ stateDir: join(root, 'app'), shell: 'browser', nativeDialogs: false, version: 'test', ...options });
    cleanup.push(() => core.shutdown());
    const call = createDispatcher(core);
    expect(await call('inspectInvite', { invite: server.inviteLink })).toMatchObject({ ok: true });
    expect(await call('loadData', { kind: 'embedded', name: 'mnist' })).toMatchObject({ ok: true });
    const joined = await call('join', { cap: { epsilon: 1000, view: 'worst-case' }, autoParticipate: true });
    expect(joined, JSON.stringify(joined)).toMatchObject({ ok: true });
    return { core, call };
  }

  /** An app that joins and pauses at once, while one other member takes the federation to its end. */
  async function appPausedOverTheEnd(federationId: string, rounds: number, seed: number, options: { endWatchIntervalMs?: number } = {}) {
    const [b] = await participants(1, seed);
    const { server, url } = await startServer({
      ...base,
      federationId,
      rounds,
      stateDir: join(b.root, 'server'),
      cohort: { minClients: 1, expectedClients: 1, roundTimeoutSeconds: 60, waitForClientsSeconds: 30 },
      dp: central,
    });
    const { core, call } = await joinedApp(server, b.root, options);
    expect(await call('pause', undefined)).toMatchObject({ ok: true, value: { participation: 'paused' } });
    // The federation runs to its end without the paused app, which is never drawn or charged (it is not connected).
    const B = await member(url, server.inviteCode, { identity: b.identity, data: b.data, stateDir: b.stateDir });
    expect((await server.run()).completedRound).toBe(rounds);
    expect(await B.client.untilDone()).toMatchObject({ outcome: 'completed' });
    return { core, call };
  }

  it(
    'says paused at once when asked to pause during its round (so the next cohort is drawn without it), and available on resume',
    { timeout: 120_000 },
    async () => {
      const [p] = await participants(1, 40);
      const { server, url } = await startServer({
        ...base,
        federationId: 'app-pause',
        rounds: 2,
        stateDir: join(p.root, 'server'),
        // A silent member holds round 1 open after the app's update: the app stays in its round until it is told the round ended.
        cohort: { minClients: 1, expectedClients: 2, roundTimeoutSeconds: 600, waitForClientsSeconds: 30 },
        dp: central,
      });
      const { core, call } = await joinedApp(server, p.root);
      await silentMember(url, server.inviteCode);
      await server.waitForConnected(2, 30_000);
      void server.run();
      await vi.waitFor(() => expect(core.snapshot().round?.stage).toBe('sent'), { timeout: 60_000, interval: 100 });
      expect(await call('pause', undefined)).toMatchObject({ ok: true, value: { participation: 'pausing' } });
      const availabilities = async () => (await status(server)).members.map((m) => m.availability).sort();
      await vi.waitFor(async () => expect(await availabilities()).toEqual(['available', 'paused']), { timeout: 10_000, interval: 100 });
      expect(await call('resume', undefined)).toMatchObject({ ok: true, value: { participation: 'active' } });
      await vi.waitFor(async () => expect(await availabilities()).toEqual(['available', 'available']), { timeout: 10_000, interval: 100 });
    },
  );

  it('a paused app learns on its own that the federation ended, from the signed preview, without taking part', { timeout: 180_000 }, async () => {
    const { core } = await appPausedOverTheEnd('app-end-watch', 1, 41, { endWatchIntervalMs: 200 });
    await vi.waitFor(() => expect(core.snapshot().participation).toBe('done'), { timeout: 30_000, interval: 100 });
    const after = core.snapshot();
    expect(after.federation?.ended).toEqual({ outcome: 'completed', message: 'completed all 1 rounds', rounds: 1, of: 1 });
    expect(after.notices.at(-1)).toBe('This federation has finished all its 1 rounds.');
    expect(after.rounds.filter((r) => r.outcome === 'contributed')).toEqual([]);
  });

  it('a paused app learns that the federation ended when it resumes: it says so, not that the server is gone', { timeout: 180_000 }, async () => {
    const { core, call } = await appPausedOverTheEnd('app-end', 2, 39);
    expect(core.snapshot().participation).toBe('paused');

    // Not a failure: taking part again answers with the state, which says how it ended.
    expect(await call('resume', undefined)).toMatchObject({ ok: true, value: { participation: 'done', lastError: null, round: null } });
    const after = core.snapshot();
    expect(after.participation).toBe('done');
    expect(after.federation?.ended).toEqual({ outcome: 'completed', message: 'completed all 2 rounds', rounds: 2, of: 2 });
    expect(after.notices.at(-1)).toBe('This federation has finished all its 2 rounds.');
    expect(after.rounds.filter((r) => r.outcome === 'contributed')).toEqual([]);
  });
});
