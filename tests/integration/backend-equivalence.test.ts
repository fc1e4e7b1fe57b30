import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, getFlatWeights, MODEL_SPECS, type ModelName } from '../../src/core/model/index.js';
import { pickTrainingBackend, relativeError, trainingUpdate } from '../../src/core/train/browser/backends.js';
import { selectBackend, stopTrainingWorkers, trainLocal } from '../../src/core/train/index.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

/**
 * Cross-backend equivalence (Node side; WebGL runs in tests/ui/backend-webgl.test.ts): a few SGD
 * steps of the CNN and the MLP from the same seeded weights on the same batches of real digits
 * must give the same weight update on every backend. Tolerance: relative L2 error of the update
 * (trained − initial) against the cpu backend's below 1e-4 (float32 summation order only; an
 * update computed wrongly, e.g. a gradient off by a transpose, is off by far more than 1e-2).
 */
const UPDATE_TOLERANCE = 1e-4;

const data = mnistDigits(100, 2); // 20 real digits: batches of 8, 8 and 4
const OPTS = { batchSize: 8, learningRate: 0.05, seed: 3 };

afterAll(async () => {
  await stopTrainingWorkers();
});

async function updateOn(backend: 'cpu' | 'wasm', name: ModelName): Promise<Float32Array> {
  await selectBackend(backend);
  return (await trainingUpdate(MODEL_SPECS[name], data, OPTS)).update;
}

/** The same update through trainLocal on `threads` wasm workers. */
async function updateOnWorkers(name: ModelName, threads: number): Promise<Float32Array> {
  await selectBackend('wasm');
  const model = buildModel(MODEL_SPECS[name], { seed: OPTS.seed });
  const initial = getFlatWeights(model);
  const result = await trainLocal(model, data, { epochs: 1, batchSize: OPTS.batchSize, learningRate: OPTS.learningRate, seed: OPTS.seed, threads });
  expect(result.threads).toBe(threads);
  const update = getFlatWeights(model);
  model.dispose();
  for (let i = 0; i < update.length; i++) update[i] -= initial[i];
  return update;
}

describe.each(['cnn', 'mlp'] as const)('the %s trains to the same weights on every Node backend', (name) => {
  it('cpu, wasm on one thread and wasm on two worker threads agree', async () => {
    const cpu = await updateOn('cpu', name);
    const wasm = await updateOn('wasm', name);
    const workers = await updateOnWorkers(name, 2);
    expect(cpu.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(1e-4); // the steps really moved the weights
    for (const [label, update] of [
      ['wasm', wasm],
      ['wasm on 2 workers', workers],
    ] as const) {
      const error = relativeError(cpu, update);
      console.info(`${name} on ${label}: relative error of the update ${error.toExponential(2)}`);
      expect(error, label).toBeLessThan(UPDATE_TOLERANCE);
    }
  });
});

describe('first-run backend choice', () => {
  it('measures the candidates, keeps the fastest that trains correctly, and re-checks a cached choice', async () => {
    const wasmPaths = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
    const lines: string[] = [];
    const choice = await pickTrainingBackend({ spec: MODEL_SPECS.mlp, candidates: ['webgpu', 'wasm', 'cpu'], wasmPaths, log: (l) => lines.push(l) });
    // No WebGPU in Node: it is tried and reported unusable; wasm passes the check and wins over cpu.
    expect(choice).toMatchObject({ name: 'wasm', model: 'mlp', batchSize: 32 });
    expect(choice.label).toMatch(/^wasm \(WebAssembly/);
    expect(choice.samplesPerSecond).toBeGreaterThan(0);
    const [webgpu, wasm, cpu] = choice.trials;
    expect(webgpu).toMatchObject({ name: 'webgpu', ok: false });
    expect(wasm.ok).toBe(true);
    expect(wasm.relativeError).toBeLessThan(1e-3);
    expect(cpu).toMatchObject({ name: 'cpu', ok: true });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const again = await pickTrainingBackend({ spec: MODEL_SPECS.mlp, cached: choice, wasmPaths });
    expect(again).toEqual(choice);
    await selectBackend('wasm'); // hand the rest of the file's process a registered, selected backend
  });
});
