import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildModel, getFlatWeights, MODEL_SPECS } from '../../src/core/model/index.js';
import { fastConv2dGradConfig } from '../../src/core/train/conv-gradients.js';
import { evaluate, selectBackend, trainLocal } from '../../src/core/train/index.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

// tf's own Conv2D gradient, captured before selectBackend replaces it.
const stockConv2dGrad = tf.getGradient(tf.Conv2D);

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: tf.Conv2DAttrs['pad'];
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 9, 9, 3], filter: [5, 5, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 10, 9, 2], filter: [4, 2, 2, 3], strides: 1, pad: 'same' },
  {
    x: [1, 7, 7, 2],
    filter: [3, 3, 2, 2],
    strides: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [1, 8, 7, 2], filter: [3, 3, 2, 2], strides: [2, 3], pad: 'valid' },
];

interface ConvGrads {
  x: Float32Array;
  filter: Float32Array;
}

/** Random x, filter, dy for each case (seeded), and the gradients `config` gives on the active backend. */
function convGradients(config: tf.GradConfig): ConvGrads[] {
  return CONV_CASES.map((c, k) =>
    tf.tidy(() => {
      const x = tf.randomNormal<tf.Rank.R4>(c.x, 0, 1, 'float32', 100 + k);
      const filter = tf.randomNormal<tf.Rank.R4>(c.filter, 0, 1, 'float32', 200 + k);
      const dy = tf.randomNormal(tf.conv2d(x, filter, c.strides, c.pad).shape, 0, 1, 'float32', 300 + k);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
      const grads = config.gradFunc(dy, [x, filter], attrs);
      return { x: grads.x().dataSync() as Float32Array, filter: grads.filter().dataSync() as Float32Array };
    }),
  );
}

function relativeError(expected: Float32Array, actual: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (expected[i] - actual[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function expectSameGradients(expected: ConvGrads[], actual: ConvGrads[]): void {
  expected.forEach((e, k) => {
    const label = JSON.stringify(CONV_CASES[k]);
    expect(relativeError(e.x, actual[k].x), `dx ${label}`).toBeLessThan(1e-4);
    expect(relativeError(e.filter, actual[k].filter), `dfilter ${label}`).toBeLessThan(1e-4);
  });
}

const train = mnistDigits(0, 200); // 2,000 real digits
const test = mnistDigits(800, 50); // 500 others

describe('conv2d gradient replacement', () => {
  it('agrees with the stock gradient on the cpu backend', async () => {
    await tf.setBackend('cpu');
    expectSameGradients(convGradients(stockConv2dGrad), convGradients(fastConv2dGradConfig(stockConv2dGrad)));
  });

  it('computes the same gradients on wasm, which has no stock filter gradient', async () => {
    await tf.setBackend('cpu');
    const reference = convGradients(stockConv2dGrad);
    await selectBackend('wasm');
    expectSameGradients(reference, convGradients(fastConv2dGradConfig(stockConv2dGrad)));
  });
});

describe('backend selection', () => {
  it('is idempotent and explains bad or unavailable choices', async () => {
    const info = await selectBackend('wasm');
    expect(info).toMatchObject({ name: 'wasm', tfBackend: 'wasm' });
    expect(info.label).toMatch(/^wasm \(WebAssembly/);
    expect(await selectBackend('wasm')).toBe(info);
    expect(tf.getBackend()).toBe('wasm');
    // Switched another way meanwhile (as a test or a library may): selecting again returns to the selected backend.
    await tf.setBackend('cpu');
    expect(await selectBackend('wasm')).toBe(info);
    expect(tf.getBackend()).toBe('wasm');
    await expect(selectBackend('tpu')).rejects.toThrow(/unknown backend 'tpu'.*auto, cuda, tensorflow, wasm, cpu/);
    let nativeInstalled = true;
    try {
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    } catch {
      nativeInstalled = false;
    }
    if (!nativeInstalled) {
      await expect(selectBackend('tensorflow')).rejects.toThrow(/'tensorflow' backend was asked for but cannot run: @tensorflow\/tfjs-node is not installed/);
      expect(tf.getBackend()).toBe('wasm');
    }
  });

  it("keeps a forced backend until 'auto' asks for the automatic order again", async () => {
    const cpu = await selectBackend('cpu');
    expect(cpu).toMatchObject({ name: 'cpu', skipped: [] });
    expect(await selectBackend()).toBe(cpu);
    const auto = await selectBackend('auto');
    const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
    expect(auto.name).not.toBe('cpu');
    expect(tf.getBackend()).toBe(auto.tfBackend);
    // Each faster backend it skipped, with why in one line.
    expect(auto.skipped.map((s) => s.name)).toEqual(order.slice(0, order.indexOf(auto.name)));
    for (const { reason } of auto.skipped) expect(reason).toMatch(/^[^\n]+$/);
    expect(await selectBackend('auto')).toBe(auto);
    expect(await selectBackend()).toBe(auto);
    await selectBackend('wasm');
  });
});

describe('local training on wasm', () => {
  // Training the FedAvg CNN for 40 batches: tests/integration/train-cnn.test.ts.
  it('trains the 2NN MLP to at least 85% accuracy on held-out digits in 2 epochs, leaking no tensors', async () => {
    const model = buildModel(MODEL_SPECS.mlp, { seed: 7 });
    const before = tf.memory().numTensors;
    const initial = evaluate(model, test);
    const result = await trainLocal(model, train, { epochs: 2, batchSize: 32, learningRate: 0.1, seed: 3 });
    const after = evaluate(model, test);
    expect(tf.memory().numTensors).toBe(before);
    expect(initial.accuracy).toBeLessThan(0.3);
    expect(after.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(after.loss).toBeLessThan(initial.loss);
    const inSmallBatches = evaluate(model, test, 64); // 8 batches, the last one partial
    expect(inSmallBatches.accuracy).toBe(after.accuracy);
    expect(inSmallBatches.loss).toBeCloseTo(after.loss, 5);
    expect(result.examples).toBe(4000);
    expect(result.accuracy).toBeGreaterThan(0.8);
    expect(result.loss).toBeLessThan(1);
    model.dispose();
  });

  it('is reproducible: the same seeds give bit-identical trained weights', async () => {
    const run = async (shuffleSeed: number) => {
      const model = buildModel(MODEL_SPECS.logreg, { seed: 11 });
      await trainLocal(model, test, { epochs: 1, batchSize: 50, learningRate: 0.1, seed: shuffleSeed });
      const flat = getFlatWeights(model);
      model.dispose();
      return flat;
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('rejects data that does not fit the model, and bad options', async () => {
    const model = buildModel(MODEL_SPECS.logreg, { seed: 1 });
    const flatRows = { ...test, inputShape: [784] };
    await expect(trainLocal(model, flatRows, { epochs: 1, batchSize: 32, learningRate: 0.1, seed: 1 })).rejects.toThrow(/takes inputs \[28,28,1\].*\[784\]/);
    await expect(trainLocal(model, test, { epochs: 0, batchSize: 32, learningRate: 0.1, seed: 1 })).rejects.toThrow(/epochs/);
    await expect(trainLocal(model, test, { epochs: 1, batchSize: 32, learningRate: Number.NaN, seed: 1 })).rejects.toThrow(/learningRate/);
    expect(() => evaluate(model, { ...test, numClasses: 3 })).toThrow(/10 outputs.*3 classes/);
    model.dispose();
  });
});
