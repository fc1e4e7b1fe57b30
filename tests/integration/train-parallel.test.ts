import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/core/data/dataset.js';
import { buildModel, getFlatWeights, MODEL_SPECS, type ModelName } from '../../src/core/model/index.js';
import { noteTrainingThroughput, selectBackend, stopTrainingWorkers, trainingThreads, trainLocal, type TrainProgress } from '../../src/core/train/index.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

/**
 * Data-parallel training on worker threads must follow the single-thread loss curve: the same
 * batches, the batch-mean gradient (as a size-weighted mean of the shards' gradients), the same
 * SGD step. Only float summation order differs.
 */

const digits = mnistDigits(0, 20); // 200 real digits

function take(data: Dataset, count: number): Dataset {
  return { ...data, count, features: data.features.subarray(0, count * 784), labels: data.labels.subarray(0, count) };
}

async function run(
  name: ModelName,
  data: Dataset,
  threads: number,
  opts: { batchSize: number; epochs: number; learningRate: number; proximalMu?: number; classWeights?: 'balanced' },
) {
  const model = buildModel(MODEL_SPECS[name], { seed: 4 });
  const progress: TrainProgress[] = [];
  const before = tf.memory().numTensors;
  const result = await trainLocal(model, data, { ...opts, seed: 9, threads, onProgress: (p) => progress.push(p) });
  expect(tf.memory().numTensors).toBe(before);
  const weights = getFlatWeights(model);
  model.dispose();
  return { result, progress, weights };
}

function relativeError(expected: Float32Array, actual: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (expected[i] - actual[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

beforeAll(async () => {
  await selectBackend('wasm');
});

afterAll(async () => {
  await stopTrainingWorkers();
});

describe('data-parallel training on worker threads', () => {
  it('follows the single-thread loss curve of the CNN and ends at the same weights', async () => {
    const data = take(digits, 6 * 16);
    const opts = { batchSize: 16, epochs: 1, learningRate: 0.05 };
    const single = await run('cnn', data, 1, opts);
    const parallel = await run('cnn', data, 2, opts);
    expect(single.result).toMatchObject({ threads: 1 });
    expect(single.result.backend).toMatch(/^wasm/);
    expect(parallel.result).toMatchObject({ threads: 2, examples: 96 });
    expect(parallel.result.backend).toMatch(/^wasm .*, 2 worker threads$/);
    expect(parallel.progress.map((p) => [p.epoch, p.batch, p.batches])).toEqual(single.progress.map((p) => [p.epoch, p.batch, p.batches]));
    parallel.progress.forEach((p, i) => expect(p.loss, `batch ${i}`).toBeCloseTo(single.progress[i].loss, 5));
    expect(parallel.progress.at(-1)!.examples).toBe(96);
    expect(parallel.progress.every((p) => p.examplesPerSecond > 0 && p.backend === parallel.result.backend)).toBe(true);
    expect(relativeError(single.weights, parallel.weights)).toBeLessThan(1e-5);
    expect(parallel.result.loss).toBeCloseTo(single.result.loss, 5);
    expect(parallel.result.accuracy).toBe(single.result.accuracy);
  });

  it('splits odd batches and a short last batch over the workers, across epochs (MLP)', async () => {
    const data = take(digits, 200);
    const opts = { batchSize: 23, epochs: 2, learningRate: 0.1 }; // shards of 11 + 12 rows; the last batch has 16
    const single = await run('mlp', data, 1, opts);
    const parallel = await run('mlp', data, 2, opts);
    expect(parallel.result.threads).toBe(2);
    expect(parallel.progress).toHaveLength(18);
    parallel.progress.forEach((p, i) => expect(p.loss, `step ${i}`).toBeCloseTo(single.progress[i].loss, 5));
    expect(relativeError(single.weights, parallel.weights)).toBeLessThan(1e-5);
    expect(parallel.result.loss).toBeLessThan(single.progress[0].loss); // it learns
  });

  it("adds FedProx's proximal term and class weights to the objective as the single thread does (MLP)", async () => {
    const data = take(mnistDigits(0, 30), 150); // labels 0..9 interleaved, 150 rows: unequal counts once cut
    const skewed = { ...data, labels: data.labels.map((l) => (l < 3 ? l : 3 + (l % 2))) }; // classes 3 and 4 frequent
    const opts = { batchSize: 25, epochs: 2, learningRate: 0.1, proximalMu: 5, classWeights: 'balanced' as const };
    const single = await run('mlp', skewed, 1, opts);
    const parallel = await run('mlp', skewed, 2, opts);
    const plain = await run('mlp', skewed, 2, { batchSize: 25, epochs: 2, learningRate: 0.1 });
    expect(parallel.result.threads).toBe(2);
    parallel.progress.forEach((p, i) => expect(p.loss, `step ${i}`).toBeCloseTo(single.progress[i].loss, 5));
    expect(relativeError(single.weights, parallel.weights)).toBeLessThan(1e-5);
    expect(relativeError(single.weights, plain.weights)).toBeGreaterThan(1e-3); // the options did change the objective
  });

  it('is chosen automatically only where it pays, and can be turned off', async () => {
    const cnn = buildModel(MODEL_SPECS.cnn, { seed: 1 });
    const logreg = buildModel(MODEL_SPECS.logreg, { seed: 1 });
    const big = { count: 60_000 };
    const opts = { epochs: 1, batchSize: 32, learningRate: 0.1, seed: 1 };
    const cores = (await import('node:os')).availableParallelism();
    expect(trainingThreads(cnn, big, opts)).toBe(Math.min(cores, 8));
    expect(trainingThreads(cnn, big, { ...opts, threads: 1 })).toBe(1);
    expect(trainingThreads(cnn, big, { ...opts, batchSize: 4 })).toBe(1); // too few rows to split
    expect(trainingThreads(logreg, big, opts)).toBe(1); // too small to gain
    const mlp = buildModel(MODEL_SPECS.mlp, { seed: 1 });
    expect(trainingThreads(mlp, big, opts)).toBe(1); // 19M multiply-adds a step: the split costs more than it saves
    expect(trainingThreads(mlp, big, { ...opts, threads: 2 })).toBe(2);
    mlp.dispose();
    const saved = process.env.COVEY_TRAIN_THREADS;
    try {
      process.env.COVEY_TRAIN_THREADS = '1';
      expect(trainingThreads(cnn, big, opts)).toBe(1);
      expect(trainingThreads(cnn, big, { ...opts, threads: 3 })).toBe(3); // the option wins
      process.env.COVEY_TRAIN_THREADS = 'many';
      expect(() => trainingThreads(cnn, big, opts)).toThrow(/COVEY_TRAIN_THREADS/);
    } finally {
      if (saved === undefined) delete process.env.COVEY_TRAIN_THREADS;
      else process.env.COVEY_TRAIN_THREADS = saved;
    }
    await selectBackend('cpu');
    expect(trainingThreads(cnn, big, opts)).toBe(1); // workers run wasm: never automatic on another backend
    await selectBackend('wasm');
    // On a machine busy with other work the workers can lose to one thread: automatic mode keeps
    // the faster it measured, and tries the other again every 8th call.
    const workers = trainingThreads(cnn, big, opts);
    noteTrainingThroughput(cnn, 32, workers, 150);
    noteTrainingThroughput(cnn, 32, 1, 200);
    expect(trainingThreads(cnn, big, opts)).toBe(1);
    noteTrainingThroughput(cnn, 32, workers, 300);
    expect(trainingThreads(cnn, big, opts)).toBe(workers);
    for (let call = 3; call < 7; call++) noteTrainingThroughput(cnn, 32, workers, 300);
    expect(trainingThreads(cnn, big, opts)).toBe(1); // the 8th call re-measures one thread
    cnn.dispose();
    logreg.dispose();
  });
});
