/**
 * Issue 13, finding 8, from the app: the common MNIST CSV (label + 784 pixel columns, 0..255) is
 * chosen in the app, read as 28×28×1 digits for the image models, and trains the MLP and the CNN
 * through a round of a real federation: the app core (what the screens call) against a real
 * aggregator on loopback, real digits, real training. `covey join` is tested in ./csv-mnist.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { AppCore } from '../../src/app/core.js';
import { createDispatcher } from '../../src/app/dispatch.js';
import { writeMnistCsv } from '../helpers/mnist-csv.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function oneRoundFromTheApp(model: 'mlp' | 'cnn', perClass: number) {
  const root = await mkdtemp(join(tmpdir(), `covey-app-csv-${model}-`));
  cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  const csv = join(root, 'mnist.csv');
  await writeMnistCsv(csv, mnistDigits(0, perClass));

  const config = parseServerConfig({
    federationId: `app-csv-${model}`,
    port: 0,
    model,
    rounds: 1,
    seed: 5,
    training: { epochs: 1, batchSize: 16, learningRate: 0.05 },
    cohort: { minClients: 1, expectedClients: 1, roundTimeoutSeconds: 300, waitForClientsSeconds: 300 },
    stateDir: join(root, 'server'),
  });
  // Held-out digits (not in the CSV) for the server's evaluation of the round's global model.
  const server = await Aggregator.create({ config, logger: () => {}, evaluationData: mnistDigits(800, 20) });
  await server.listen();
  cleanup.push(() => server.close());

  const core = await AppCore.open({ stateDir: join(root, 'app'), shell: 'browser', nativeDialogs: false, version: 'test' });
  cleanup.push(() => core.shutdown());
  const call = createDispatcher(core);
  expect(await call('inspectInvite', { invite: server.inviteLink })).toMatchObject({ ok: true, value: { model: { name: model, inputShape: [28, 28, 1] } } });
  const data = await call('loadData', { kind: 'path', path: csv });
  expect(data, JSON.stringify(data)).toMatchObject({ ok: true, value: { format: 'CSV file', count: perClass * 10, inputShape: [28, 28, 1], numClasses: 10 } });
  expect(core.snapshot().data?.shapeNote).toMatch(/784 values are read as one 28×28×1 example/);
  // DP off (the config's default): joined with the explicit "no privacy bound".
  const joined = await call('join', { cap: null, autoParticipate: true });
  expect(joined, JSON.stringify(joined)).toMatchObject({ ok: true });

  await server.waitForConnected(1, 60_000);
  const state = await server.run();
  expect(state.completedRound).toBe(1);
  await vi.waitFor(() => expect(core.snapshot().participation).toBe('done'), { timeout: 60_000, interval: 100 });
  const after = core.snapshot();
  // The app took part: its update was one of the round's, trained on the CSV's digits.
  expect(state.results[0].participants).toBe(1);
  expect(after.rounds).toMatchObject([{ round: 1, outcome: 'contributed', participants: 1 }]);
  expect(after.federation?.ended).toEqual({ outcome: 'completed', message: 'completed all 1 rounds', rounds: 1, of: 1 });
  return { row: after.rounds[0], accuracy: state.results[0].accuracy };
}

describe('a 785-column MNIST CSV chosen in the app', () => {
  it('trains the MLP through a round', { timeout: 600_000 }, async () => {
    const { row, accuracy } = await oneRoundFromTheApp('mlp', 100);
    expect(row.trainLoss).toBeLessThan(Math.log(10));
    // Chance is 0.1; one round from 1,000 digits reached 0.66 when written.
    expect(accuracy).toBeGreaterThan(0.3);
  });

  it('trains the CNN through a round', { timeout: 600_000 }, async () => {
    const { row, accuracy } = await oneRoundFromTheApp('cnn', 40);
    expect(row.trainLoss).toBeLessThan(Math.log(10) + 0.5);
    // Chance is 0.1; one round from 400 digits reached 0.54 when written.
    expect(accuracy).toBeGreaterThan(0.15);
  });
});
