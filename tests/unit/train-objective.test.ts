import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, getFlatWeights, MODEL_SPECS } from '../../src/core/model/index.js';
import { balancedClassWeights } from '../../src/core/train/class-weights.js';
import { crossEntropy } from '../../src/core/train/loss.js';
import { proximalTerm } from '../../src/core/train/proximal.js';
import { selectBackend, trainLocal } from '../../src/core/train/index.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}

describe("FedProx's proximal term", () => {
  it('is μ/2 ‖w − w₀‖² with gradient μ (w − w₀), the closed form', () => {
    const w = [tf.tensor1d([1, -2, 3]), tf.tensor2d([[0.5, 4]])];
    const anchors = [tf.tensor1d([0, -1, 1]), tf.tensor2d([[0.5, 1]])];
    const mu = 0.3;
    // ‖w − w₀‖² = 1 + 1 + 4 + 0 + 9 = 15.
    expect(proximalTerm(w, anchors, mu).dataSync()[0]).toBeCloseTo((mu / 2) * 15, 6);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => proximalTerm([a, b], anchors, mu))(w);
    expect(Array.from(grads[0].dataSync())).toEqual([1, -1, 2].map((d) => expect.closeTo(mu * d, 6) as number));
    expect(Array.from(grads[1].dataSync())).toEqual([0, 3].map((d) => expect.closeTo(mu * d, 6) as number));
    tf.dispose([...w, ...anchors, ...grads]);
  });

  it('keeps local weights near the global ones when μ is large', async () => {
    const data = mnistDigits(0, 10);
    const trainedDistance = async (proximalMu: number) => {
      const model = buildModel(MODEL_SPECS.logreg, { seed: 5 });
      const global = getFlatWeights(model);
      const before = tf.memory().numTensors;
      await trainLocal(model, data, { epochs: 2, batchSize: 10, learningRate: 0.05, seed: 1, threads: 1, proximalMu });
      expect(tf.memory().numTensors).toBe(before);
      const d = distance(getFlatWeights(model), global);
      model.dispose();
      return d;
    };
    const free = await trainedDistance(0);
    const held = await trainedDistance(10);
    expect(free).toBeGreaterThan(0.1);
    // With μ = 10 and lr 0.05 each step pulls half-way back towards the global weights.
    expect(held).toBeLessThan(0.25 * free);
    await expect(trainedDistance(-1)).rejects.toThrow(/proximalMu/);
  });
});

describe('balanced class weights', () => {
  it('are n / (k · n_c) over the classes present, averaging 1 over the examples', () => {
    const labels = Uint8Array.from([0, 0, 0, 1, 2, 2]); // class 3 absent
    const weights = balancedClassWeights({ labels, count: 6, numClasses: 4 });
    expect(Array.from(weights)).toEqual([6 / 9, 6 / 3, 6 / 6, 0].map((w) => expect.closeTo(w, 6) as number));
    expect(Array.from(labels).reduce((a, l) => a + weights[l], 0) / 6).toBeCloseTo(1, 6);
  });

  it('weigh each example’s cross-entropy by its class before the mean', () => {
    const probs = tf.tensor2d([
      [0.7, 0.3],
      [0.2, 0.8],
      [0.6, 0.4],
    ]);
    const labels = tf.tensor1d([0, 1, 1], 'int32');
    const weights = tf.tensor1d([2, 0.5]);
    const expected = -(2 * Math.log(0.7) + 0.5 * Math.log(0.8) + 0.5 * Math.log(0.4)) / 3;
    expect(crossEntropy(probs, labels, 2, weights).dataSync()[0]).toBeCloseTo(expected, 6);
    expect(crossEntropy(probs, labels, 2).dataSync()[0]).toBeCloseTo(-(Math.log(0.7) + Math.log(0.8) + Math.log(0.4)) / 3, 6);
    tf.dispose([probs, labels, weights]);
  });

  it('raise the recall of a rare class in local training', async () => {
    // 100 digits, of which only 5 are 1s: the unweighted loss can ignore them.
    const all = mnistDigits(0, 19);
    const keep = Array.from({ length: all.count }, (_, i) => i).filter((i) => all.labels[i] !== 1 || i < 100);
    const data = {
      ...all,
      count: keep.length,
      labels: Uint8Array.from(keep, (i) => all.labels[i]),
      features: Float32Array.from(keep.flatMap((i) => Array.from(all.features.subarray(i * 784, (i + 1) * 784)))),
    };
    const ones = mnistDigits(50, 20);
    const recallOfOnes = async (classWeights?: 'balanced') => {
      const model = buildModel(MODEL_SPECS.logreg, { seed: 2 });
      await trainLocal(model, data, { epochs: 3, batchSize: 16, learningRate: 0.05, seed: 1, threads: 1, classWeights });
      const predicted = tf.tidy(() => tf.argMax(model.predict(tf.tensor(ones.features, [ones.count, 28, 28, 1])) as tf.Tensor2D, 1).dataSync());
      model.dispose();
      let hit = 0;
      let total = 0;
      ones.labels.forEach((l, i) => {
        if (l !== 1) return;
        total++;
        if (predicted[i] === 1) hit++;
      });
      return hit / total;
    };
    const plain = await recallOfOnes();
    const balanced = await recallOfOnes('balanced');
    expect(data.labels.filter((l) => l === 1).length).toBeLessThanOrEqual(10);
    expect(balanced).toBeGreaterThan(plain);
  });
});
