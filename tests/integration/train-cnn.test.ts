import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildModel, MODEL_SPECS } from '../../src/core/model/index.js';
import { selectBackend, trainLocal } from '../../src/core/train/index.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

// Real training of the 1.66M-weight CNN on wasm (the conv gradients Covey supplies): heavy, so in
// the integration tier. The rest of the training loop's tests: tests/unit/train.test.ts.

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

const train = mnistDigits(0, 200); // 2,000 real digits

describe('local training on wasm', () => {
  it('trains the FedAvg CNN: the loss falls over 40 batches of real digits', async () => {
    expect((await selectBackend('wasm')).name).toBe('wasm');
    const model = buildModel(MODEL_SPECS.cnn, { seed: 7 });
    const examples = 40 * 32;
    const subset = { ...train, count: examples, features: train.features.subarray(0, examples * 784), labels: train.labels.subarray(0, examples) };
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    const result = await trainLocal(model, subset, {
      epochs: 1,
      batchSize: 32,
      learningRate: 0.05,
      seed: 3,
      onProgress: (p) => {
        expect(p).toMatchObject({ epoch: 0, batch: losses.length, batches: 40 });
        losses.push(p.loss);
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(losses).toHaveLength(40);
    expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)) - 0.3);
    expect(result.examples).toBe(examples);
    expect(result.examplesPerSecond).toBeCloseTo(examples / result.seconds, 6);
    model.dispose();
  });
});
