import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointDir } from '../../server/checkpoints.js';
import { FederationDb } from '../../server/db.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { decodeOptimizerState } from '../../src/core/aggregate/index.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { exitCode, spawnCovey, type CoveyProcess } from '../helpers/processes.js';

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
let root = '';
let parts: Dataset[] = [];

/** A FedAdam federation of two seeded clients, run by real `covey server` processes; optionally killed (-9) once mid-round 2 and restarted. */
async function federation(name: string, crashAt: string | null): Promise<{ weights: Float32Array; stateDir: string }> {
  const stateDir = join(root, name, 'server');
  const configPath = join(root, `${name}.json`);
  const config = {
    federationId: 'fedadam-resume',
    port: await freePort(),
    model: 'logreg',
    rounds: ROUNDS,
    seed: 4,
    cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
    strategy: { name: 'fedadam', serverLr: 0.05 },
    stateDir,
  };
  await writeFile(configPath, JSON.stringify(config));
  const first = track(spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done'], crashAt ? { COVEY_CRASH_AT: crashAt } : {}));
  const [, url, code] = await first.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 90_000);
  const clients = await Promise.all(
    parts.map(async (data, i) => {
      const client = new FederationClient({
        serverUrl: url,
        invite: parseInvite(code),
        identity: await generateIdentity(),
        data,
        stateDir: join(root, name, `client-${i}`),
        trainSeed: 100 + i,
      });
      await client.connect();
      return client;
    }),
  );
  cleanup.push(() => clients.forEach((c) => c.close()));
  if (crashAt) {
    await exitCode(first, 120_000);
    expect(first.child.signalCode, first.output()).toBe('SIGKILL');
    const second = track(spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done']));
    expect(await exitCode(second, 180_000), second.output()).toBe(0);
    expect(second.output()).toMatch(/"completedRound":1,[^\n]*"event":"resumed"/);
  } else {
    expect(await exitCode(first, 180_000), first.output()).toBe(0);
  }
  await Promise.all(clients.map((c) => c.untilDone()));
  const bytes = await readFile(join(checkpointDir(stateDir, ROUNDS), 'weights.bin'));
  return { weights: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), stateDir };
}

describe('FedAdam: kill -9 of the server mid-round, then a restart, gives the uninterrupted run’s model', () => {
  let uninterrupted: Float32Array;

  beforeAll(async () => {
    ({ root, parts } = await writeClientPartitions(2, 120, 41));
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    uninterrupted = (await federation('uninterrupted', null)).weights;
  }, 300_000);

  it.each(['aggregation:2', 'checkpoint:2'])(
    'crash at %s: same model within 1e-6, moments restored (3 optimizer steps, not 2)',
    { timeout: 300_000 },
    async (crashAt) => {
      const { weights, stateDir } = await federation(`crash-${crashAt.replace(':', '-')}`, crashAt);
      expect(weights.length).toBe(uninterrupted.length);
      let maxDiff = 0;
      for (let i = 0; i < weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(weights[i] - uninterrupted[i]));
      expect(maxDiff).toBeLessThanOrEqual(1e-6);
      const db = FederationDb.open(stateDir);
      const stored = db.optimizerState();
      db.close();
      expect(stored?.round).toBe(ROUNDS);
      // Had the restart begun with fresh moments, round 3 would be the optimizer's second step.
      expect(decodeOptimizerState(stored!.state, 'adam', weights.length).steps).toBe(ROUNDS);
    },
  );
});
