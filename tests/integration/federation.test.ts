import { readFile, rm, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDir, readCheckpointWeights } from '../../server/checkpoints.js';
import { FederationDb } from '../../server/db.js';
import { buildModel, getFlatWeights, modelSpecFor, setFlatWeights } from '../../src/core/model/index.js';
import { evaluate, selectBackend } from '../../src/core/train/index.js';
import { exitCode, spawnCovey, type CoveyProcess } from '../helpers/processes.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const spawned: CoveyProcess[] = [];
const roots: string[] = [];
afterAll(async () => {
  for (const p of spawned) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function startServer(root: string, config: Record<string, unknown>) {
  const configPath = join(root, 'server.json');
  await writeFile(configPath, JSON.stringify({ port: 0, stateDir: join(root, 'server'), ...config }));
  const server = spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done']);
  spawned.push(server);
  const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 90_000);
  return { server, url, invite };
}

function join_(url: string, invite: string, dir: string, extra: string[] = []) {
  const p = spawnCovey(['join', url, '--invite', invite, '--data', dir, '--state-dir', dir, '--seed', '1', ...extra]);
  spawned.push(p);
  return p;
}

describe('covey server + covey join over loopback', () => {
  it('runs 2 rounds with 3 clients: the global model changes and accuracy rises', { timeout: 300_000 }, async () => {
    const { root, dirs, test } = await writeClientPartitions(3, 600);
    roots.push(root);
    const { server, url, invite } = await startServer(root, {
      federationId: 'it-federation',
      model: 'mlp',
      rounds: 2,
      seed: 3,
      training: { epochs: 1, batchSize: 16, learningRate: 0.05 },
      cohort: { minClients: 3, roundTimeoutSeconds: 120, waitForClientsSeconds: 120 },
      evaluation: { data: 'mnist' },
    });
    const clients = dirs.map((d) => join_(url, invite, d));
    expect(await exitCode(server, 240_000), server.output()).toBe(0);
    for (const c of clients) expect(await exitCode(c, 30_000), c.output()).toBe(0);
    expect(
      server.lines.some((l) => /^round 2: 3 participants/.test(l)),
      server.output(),
    ).toBe(true);
    for (const c of clients) {
      expect(c.lines.filter((l) => /sealed update sent/.test(l))).toHaveLength(2);
    }

    const db = FederationDb.open(join(root, 'server'));
    const results = db.results();
    expect(db.completedRound()).toBe(2);
    db.close();
    expect(results.map((r) => r.participants)).toEqual([3, 3]);

    // Independently evaluate the initial and final checkpoints on the held-out digits.
    await selectBackend();
    const model = buildModel(modelSpecFor('mlp'), { seed: 0 });
    const length = getFlatWeights(model).length;
    const initial = await readCheckpointWeights(checkpointDir(join(root, 'server'), 0), length);
    const final = await readCheckpointWeights(checkpointDir(join(root, 'server'), 2), length);
    let changed = 0;
    for (let i = 0; i < length; i++) if (initial[i] !== final[i]) changed++;
    expect(changed / length).toBeGreaterThan(0.5);
    setFlatWeights(model, initial);
    const before = evaluate(model, test);
    setFlatWeights(model, final);
    const after = evaluate(model, test);
    expect(after.accuracy).toBeGreaterThan(before.accuracy + 0.4);
    expect(after.accuracy).toBeCloseTo(results[1].accuracy!, 6);

    // The operator exports round 2 in TensorFlow.js format; it loads back with tf.loadLayersModel.
    const out = join(root, 'export');
    const exporter = spawnCovey(['server', 'export', '--round', '2', '--out', out, '--state-dir', join(root, 'server')]);
    expect(await exitCode(exporter, 60_000), exporter.output()).toBe(0);
    const manifest = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    const weightData = new Uint8Array(await readFile(join(out, 'weights.bin'))).buffer;
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: manifest.modelTopology, weightSpecs: manifest.weightsManifest[0].weights, weightData }),
    );
    loaded.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    expect(evaluate(loaded, test).accuracy).toBeCloseTo(results[1].accuracy!, 6);
  });

  it('closes a round at its deadline with the survivors when a client is killed mid-round', async () => {
    const { root, dirs } = await writeClientPartitions(3, 400, 11);
    roots.push(root);
    const { server, url, invite } = await startServer(root, {
      federationId: 'it-dropout',
      model: 'logreg',
      rounds: 1,
      seed: 5,
      training: { epochs: 3, batchSize: 8, learningRate: 0.05 },
      cohort: { minClients: 2, minConnected: 3, roundTimeoutSeconds: 12, waitForClientsSeconds: 120 },
    });
    const steady = [join_(url, invite, dirs[0]), join_(url, invite, dirs[1])];
    const doomed = join_(url, invite, dirs[2], ['--json']);
    await doomed.waitForLine(/"type":"round-start"/, 90_000);
    doomed.child.kill('SIGKILL');
    expect(await exitCode(server, 120_000), server.output()).toBe(0);
    const roundLine = server.lines.find((l) => /^round 1:/.test(l));
    expect(roundLine, server.output()).toMatch(/^round 1: 2 participants/);
    const seconds = Number(roundLine!.match(/, ([\d.]+) s$/)![1]);
    expect(seconds).toBeGreaterThanOrEqual(11);
    for (const c of steady) expect(await exitCode(c, 30_000), c.output()).toBe(0);
  });
});
