import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  getFlatWeights,
  layerWeights,
  mergeTrainable,
  modelSpecFor,
  parameterCount,
  selectTrainable,
  setFlatWeights,
  setTrainableLayers,
  trainableSlice,
} from '../../src/core/model/index.js';
import { selectBackend, trainLocal } from '../../src/core/train/index.js';
import { checkpointDir, writeCheckpoint } from '../../server/checkpoints.js';
import { parseServerConfig } from '../../server/config.js';
import { readInitWeights } from '../../server/init-model.js';
import { loadTrainTest, subset } from '../../src/core/data/index.js';

const cnn = modelSpecFor('cnn');
const mlp = modelSpecFor('mlp');
let dir: string;

beforeAll(async () => {
  await selectBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'covey-trainable-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('trainable layers', () => {
  it('names each layer by type and index, as the built tfjs model does, with its weight count', () => {
    expect(layerWeights(cnn)).toEqual([
      { name: 'conv2d_1', weights: 5 * 5 * 32 + 32 },
      { name: 'maxPool2d_1', weights: 0 },
      { name: 'conv2d_2', weights: 5 * 5 * 32 * 64 + 64 },
      { name: 'maxPool2d_2', weights: 0 },
      { name: 'flatten_1', weights: 0 },
      { name: 'dense_1', weights: 3136 * 512 + 512 },
      { name: 'dense_2', weights: 512 * 10 + 10 },
    ]);
    expect(buildModel(cnn, { seed: 1 }).layers.map((l) => l.name)).toEqual(layerWeights(cnn).map((l) => l.name));
    expect(parameterCount(cnn, ['dense_2'])).toBe(5130);
  });

  it('selects the named layers’ slice of the flat vector and merges a new slice back, leaving the rest bit for bit', () => {
    const slice = trainableSlice(mlp, ['dense_1', 'dense_3']);
    // flatten_1 none, dense_1 [0, 157000), dense_2 [157000, 197200), dense_3 [197200, 199210)
    expect(slice).toEqual({
      ranges: [
        [0, 157_000],
        [197_200, 199_210],
      ],
      length: 157_000 + 2010,
      total: 199_210,
    });
    expect(trainableSlice(mlp, ['dense_2', 'dense_3']).ranges).toEqual([[157_000, 199_210]]);
    expect(trainableSlice(mlp)).toEqual({ ranges: [[0, 199_210]], length: 199_210, total: 199_210 });
    const full = Float32Array.from({ length: 199_210 }, (_, i) => i);
    const picked = selectTrainable(full, slice);
    expect(picked[0]).toBe(0);
    expect(picked[156_999]).toBe(156_999);
    expect(picked[157_000]).toBe(197_200);
    expect(picked.at(-1)).toBe(199_209);
    const merged = mergeTrainable(
      full,
      picked.map((v) => -v - 1),
      slice,
    );
    expect(merged[5]).toBe(-6);
    expect(merged[157_000]).toBe(157_000);
    expect(merged[197_199]).toBe(197_199);
    expect(merged[197_200]).toBe(-197_201);
    expect(full[5]).toBe(5); // the input is left alone
    expect(() => mergeTrainable(full, new Float32Array(3), slice)).toThrow(/trainable weight vector has 3 values, expected 159010/);
    expect(() => selectTrainable(new Float32Array(3), slice)).toThrow(/model weight vector has 3 values, expected 199210/);
  });

  it('refuses unknown and weightless layer names, listing the model’s layers (in the server config too)', () => {
    expect(() => trainableSlice(cnn, ['dense_3'])).toThrow(
      "model 'cnn' has no layer 'dense_3'; its layers are: conv2d_1, maxPool2d_1 (no weights), conv2d_2, maxPool2d_2 (no weights), flatten_1 (no weights), dense_1, dense_2",
    );
    expect(() => trainableSlice(cnn, ['flatten_1'])).toThrow(/layer 'flatten_1' of model 'cnn' has no weights to train/);
    expect(() => trainableSlice(cnn, ['dense_2', 'dense_2'])).toThrow(/named more than once/);
    expect(() => parseServerConfig({ model: 'mlp', training: { epochs: 1, batchSize: 8, learningRate: 0.1, trainable: ['dense_9'] } })).toThrow(
      /training\.trainable: model 'mlp' has no layer 'dense_9'; its layers are: flatten_1 \(no weights\), dense_1, dense_2, dense_3/,
    );
    expect(
      parseServerConfig({ model: 'cnn', initFrom: '/x', training: { epochs: 1, batchSize: 8, learningRate: 0.1, trainable: ['dense_2'] } }).training.trainable,
    ).toEqual(['dense_2']);
  });

  it('keeps the flat layout layer by layer when layers are frozen, and training changes only the trainable slice', async () => {
    const model = buildModel(mlp, { seed: 3 });
    const before = getFlatWeights(model);
    setTrainableLayers(model, ['dense_3']);
    expect(model.trainableWeights.length).toBe(2);
    expect(getFlatWeights(model)).toEqual(before); // model.weights would now list dense_3 first
    const { train } = await loadTrainTest('mnist');
    await trainLocal(model, subset(train, [...Array(64).keys()]), { epochs: 1, batchSize: 16, learningRate: 0.1, seed: 1 });
    const after = getFlatWeights(model);
    const slice = trainableSlice(mlp, ['dense_3']);
    expect(after.subarray(0, 197_200)).toEqual(before.subarray(0, 197_200)); // flatten_1, dense_1, dense_2: frozen
    expect(selectTrainable(after, slice)).not.toEqual(selectTrainable(before, slice));
    setFlatWeights(model, before);
    expect(getFlatWeights(model)).toEqual(before);
  });
});

describe('init model (readInitWeights)', () => {
  it('reads a checkpoint written by the server back bit for bit', async () => {
    const model = buildModel(mlp, { seed: 5 });
    const weights = getFlatWeights(model);
    const at = checkpointDir(dir, 1);
    await writeCheckpoint(at, model, weights, { round: 1 });
    const read = await readInitWeights(at, buildModel(mlp, { seed: 6 }));
    expect(Buffer.from(read.buffer).equals(Buffer.from(weights.buffer))).toBe(true);
  });

  it('refuses another architecture, truncated weights and a folder without a model, saying why', async () => {
    const at = checkpointDir(dir, 2);
    await writeCheckpoint(at, buildModel(mlp, { seed: 5 }), getFlatWeights(buildModel(mlp, { seed: 5 })), { round: 2 });
    await expect(readInitWeights(at, buildModel(cnn, { seed: 1 }))).rejects.toThrow(
      /init model .*: its layers are Flatten, Dense, Dense, Dense; model 'cnn' has Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Flatten, Dense, Dense/,
    );
    const wider = { ...mlp, layers: [mlp.layers[0], { type: 'dense' as const, units: 100, activation: 'relu' as const }, ...mlp.layers.slice(2)] };
    await expect(readInitWeights(at, buildModel(wider, { seed: 1 }))).rejects.toThrow(
      /its weights have shapes \[\[784,200\],\[200\].*needs \[\[784,100\],\[100\]/,
    );
    const bin = await readFile(join(at, 'weights.bin'));
    await writeFile(join(at, 'weights.bin'), bin.subarray(0, 1000));
    await expect(readInitWeights(at, buildModel(mlp, { seed: 1 }))).rejects.toThrow(/weight files hold 1000 bytes, 199210 float32 weights need 796840/);
    await expect(readInitWeights(join(dir, 'nothing'), buildModel(mlp, { seed: 1 }))).rejects.toThrow(/init model .*nothing: cannot read model.json/);
  });
});
