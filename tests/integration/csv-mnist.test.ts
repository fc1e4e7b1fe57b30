import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeMnistCsv } from '../helpers/mnist-csv.js';
import { mnistDigits } from '../helpers/mnist-digits.js';
import { spawnCovey, type CoveyProcess } from '../helpers/processes.js';

// Issue 13, finding 8: the common MNIST CSV (label + 784 pixel columns, 0..255) trains the image
// models from `covey join`: a real server, a real join process, real digits.

const spawned: CoveyProcess[] = [];
const roots: string[] = [];
afterAll(async () => {
  for (const p of spawned) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function runOneRound(model: 'mlp' | 'cnn', perClass: number): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), `covey-csv-${model}-`));
  roots.push(root);
  const csv = join(root, 'mnist.csv');
  await writeMnistCsv(csv, mnistDigits(0, perClass));
  const configPath = join(root, 'server.json');
  await writeFile(
    configPath,
    JSON.stringify({
      federationId: `csv-${model}`,
      port: 0,
      model,
      rounds: 1,
      seed: 5,
      training: { epochs: 1, batchSize: 16, learningRate: 0.05 },
      cohort: { minClients: 1, roundTimeoutSeconds: 300, waitForClientsSeconds: 300 },
      evaluation: { data: 'mnist' },
      stateDir: join(root, 'server'),
    }),
  );
  const server = spawnCovey(['server', '--config', configPath, '--json-logs']);
  spawned.push(server);
  const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 120_000);
  const client = spawnCovey(['join', url, '--invite', invite, '--data', csv, '--state-dir', join(root, 'client'), '--seed', '1']);
  spawned.push(client);
  const [, accuracy] = await client.waitForLine(/^round 1 done: .*global accuracy (\S+)/, 400_000);
  expect(client.lines.filter((l) => /sealed update sent/.test(l))).toHaveLength(1);
  return Number(accuracy);
}

describe('a 785-column MNIST CSV from `covey join`', () => {
  it('trains the MLP: the global model learns from one round', { timeout: 600_000 }, async () => {
    expect(await runOneRound('mlp', 100)).toBeGreaterThan(0.6);
  });

  it('trains the CNN: the global model beats chance after one round', { timeout: 600_000 }, async () => {
    expect(await runOneRound('cnn', 40)).toBeGreaterThan(0.2);
  });
});
