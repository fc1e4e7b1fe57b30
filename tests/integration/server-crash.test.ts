import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDir } from '../../server/checkpoints.js';
import { FederationDb } from '../../server/db.js';
import { FederationClient, type ClientEvent } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { epsilonFor, gaussianEpsilon } from '../../src/core/privacy/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { exitCode, spawnCovey, type CoveyProcess } from '../helpers/processes.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function track(p: CoveyProcess): CoveyProcess {
  cleanup.push(() => void (p.child.exitCode === null && p.child.kill('SIGKILL')));
  return p;
}

const ROUNDS = 3;
const Z = 1.5;

describe('kill -9 of the server at any point of a round, then a restart with the same config', () => {
  it.each([
    { point: 'selection', secure: false },
    { point: 'updates', secure: false },
    { point: 'aggregation', secure: false },
    { point: 'checkpoint', secure: false },
    { point: 'updates', secure: true },
  ] as const)(
    'crash during $point (secure aggregation: $secure): resumes at the last completed round, never half-applied, every drawn attempt charged',
    { timeout: 180_000 },
    async ({ point, secure }) => {
      const { root, parts } = await writeClientPartitions(2, 120, 31);
      cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
      const stateDir = join(root, 'server');
      const configPath = join(root, 'server.json');
      await writeFile(
        configPath,
        JSON.stringify({
          federationId: `crash-${point}${secure ? '-secure' : ''}`,
          port: await freePort(),
          model: 'logreg',
          rounds: ROUNDS,
          seed: 4,
          cohort: { minClients: 2, expectedClients: 2, roundTimeoutSeconds: 30, waitForClientsSeconds: 60 },
          dp: { mode: secure ? 'distributed' : 'central', noiseMultiplier: Z, clipNorm: 1, delta: 1e-5 },
          stateDir,
          ...(secure && { secureAggregation: { enabled: true } }),
        }),
      );
      const first = track(spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done'], { COVEY_CRASH_AT: `${point}:2` }));
      const [, url, code] = await first.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 60_000);
      const events: ClientEvent[][] = [[], []];
      const clients = await Promise.all(
        parts.map(async (data, i) => {
          const client = new FederationClient({
            serverUrl: url,
            invite: parseInvite(code),
            identity: await generateIdentity(),
            data,
            stateDir: join(root, `client-${i}`),
          });
          client.on('event', (e) => events[i].push(e));
          await client.connect();
          return client;
        }),
      );
      cleanup.push(() => clients.forEach((c) => c.close()));

      await exitCode(first, 90_000);
      expect(first.child.signalCode, first.output()).toBe('SIGKILL');
      const crashed = FederationDb.open(stateDir);
      expect(crashed.completedRound()).toBe(1);
      // The interrupted attempt was charged when it was drawn, before any member heard of it (issue 11).
      expect(crashed.accountant()).toHaveLength(2);
      crashed.close();
      // A checkpoint written just before the crash is not a completed round: the round re-runs.
      expect(existsSync(checkpointDir(stateDir, 2))).toBe(point === 'checkpoint');

      const second = track(spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done']));
      expect(await exitCode(second, 120_000), second.output()).toBe(0);
      expect(second.output()).toMatch(/"completedRound":1,[^\n]*"event":"resumed"/);
      await Promise.all(clients.map((c) => c.untilDone()));

      const db = FederationDb.open(stateDir);
      const results = db.results();
      expect(db.completedRound()).toBe(ROUNDS);
      expect(results.map((r) => r.round)).toEqual([1, 2, 3]);
      expect(results.map((r) => r.participants)).toEqual([2, 2, 2]);
      // One accountant record per drawn attempt: the released rounds and the interrupted attempt, never less.
      const charged = ROUNDS + 1;
      expect(db.accountant()).toHaveLength(charged);
      const attempts = Array.from({ length: charged }, () => ({ noiseMultiplier: Z, samplingRate: 1 }));
      expect(results[2].epsilon).toBeCloseTo(epsilonFor(attempts, 1e-5, 'prv').epsilon, 10);
      // q = 1: the exact ε is the analytic Gaussian at z/√T; the reported one is an upper bound within 0.015.
      const exact = gaussianEpsilon(1e-5, Math.sqrt(charged) / Z);
      expect(results[2].epsilon!).toBeGreaterThanOrEqual(exact);
      expect(results[2].epsilon! - exact).toBeLessThan(0.015);
      db.close();
      // The clients carried on by themselves across the restart.
      for (const e of events) {
        expect(e.some((x) => x.type === 'disconnected')).toBe(true);
        expect(e.filter((x) => x.type === 'round-result').map((x) => (x.type === 'round-result' ? x.result.round : 0))).toEqual([1, 2, 3]);
      }
    },
  );

  it('SIGTERM mid-round: exits cleanly, abandons the round without applying any of it, and a restart carries on', { timeout: 180_000 }, async () => {
    const { root, parts } = await writeClientPartitions(1, 120, 32);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const stateDir = join(root, 'server');
    const configPath = join(root, 'server.json');
    const config = {
      federationId: 'sigterm',
      port: await freePort(),
      model: 'logreg',
      rounds: 2,
      seed: 4,
      cohort: { minClients: 1, minConnected: 2, roundTimeoutSeconds: 120, waitForClientsSeconds: 60 },
      stateDir,
    };
    await writeFile(configPath, JSON.stringify(config));
    const first = track(spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done']));
    const [, url, code] = await first.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 60_000);
    const client = new FederationClient({
      serverUrl: url,
      invite: parseInvite(code),
      identity: await generateIdentity(),
      data: parts[0],
      stateDir: join(root, 'client'),
    });
    const events: ClientEvent[] = [];
    client.on('event', (e) => events.push(e));
    cleanup.push(() => client.close());
    await client.connect();
    // A second member that joins and then never answers holds round 1 open after the client's update.
    const silent = await connectRaw(url);
    cleanup.push(() => void silent.disconnect());
    expect((await sendHello(silent, await helloPayload(silent, await generateIdentity(), parseInvite(code).fingerprintHex, parseInvite(code).token))).ok).toBe(
      true,
    );
    await first.waitForLine(/"event":"update accepted"/, 60_000);
    first.child.kill('SIGTERM');
    expect(await exitCode(first, 30_000), first.output()).toBe(0);
    expect(first.output()).toMatch(/"signal":"SIGTERM"/);
    const stopped = FederationDb.open(stateDir);
    expect(stopped.completedRound()).toBe(0);
    stopped.close();
    expect(events.some((e) => e.type === 'round-abort' && /shutting down/.test(e.reason))).toBe(true);

    // Restart without the silent member: the client reconnects on its own and the federation finishes.
    silent.disconnect();
    await writeFile(configPath, JSON.stringify({ ...config, cohort: { ...config.cohort, minConnected: 1 } }));
    const second = track(spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done']));
    expect(await exitCode(second, 120_000), second.output()).toBe(0);
    const after = FederationDb.open(stateDir);
    expect(after.completedRound()).toBe(2);
    expect(after.results().map((r) => r.participants)).toEqual([1, 1]);
    after.close();
  });
});
