import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  getFlatWeights,
  MODEL_SPECS,
  modelSpecFor,
  ModelSpecSchema,
  parameterCount,
  setFlatWeights,
  weightShapes,
} from '../../src/core/model/index.js';
import { selectBackend } from '../../src/core/train/index.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('model specs', () => {
  it('validates the built-in specs and rejects malformed ones', () => {
    for (const spec of Object.values(MODEL_SPECS)) expect(ModelSpecSchema.parse(spec)).toEqual(spec);
    const mlp = modelSpecFor('mlp');
    const wrongHead = { ...mlp, layers: [...mlp.layers.slice(0, -1), { type: 'dense', units: 9, activation: 'softmax' }] };
    expect(ModelSpecSchema.safeParse(wrongHead).success).toBe(false);
    const noSoftmax = { ...mlp, layers: [...mlp.layers.slice(0, -1), { type: 'dense', units: 10, activation: 'linear' }] };
    expect(ModelSpecSchema.safeParse(noSoftmax).success).toBe(false);
    const unknownLayer = { ...mlp, layers: [{ type: 'lstm', units: 4 }, ...mlp.layers] };
    expect(ModelSpecSchema.safeParse(unknownLayer).success).toBe(false);
    const linearConv = { ...MODEL_SPECS.cnn, layers: [{ ...MODEL_SPECS.cnn.layers[0], activation: 'linear' }, ...MODEL_SPECS.cnn.layers.slice(1)] };
    expect(ModelSpecSchema.safeParse(linearConv).success).toBe(false);
    expect(() => modelSpecFor('resnet')).toThrow(/unknown model 'resnet'.*cnn, mlp, logreg/);
  });

  it('builds the FedAvg CNN, the 2NN and logistic regression with the published parameter counts', () => {
    const expected = { cnn: 1_663_370, mlp: 199_210, logreg: 7_850 };
    for (const [name, params] of Object.entries(expected)) {
      const model = buildModel(modelSpecFor(name), { seed: 1 });
      expect(model.countParams(), name).toBe(params);
      expect(getFlatWeights(model).length, name).toBe(params);
      expect(parameterCount(modelSpecFor(name)), name).toBe(params);
      model.dispose();
    }
  });

  it('counts the weights of a spec without tfjs as tfjs-layers builds them (valid padding, odd pooling)', () => {
    const spec = ModelSpecSchema.parse({
      name: 'odd',
      inputShape: [13, 11, 2],
      numClasses: 3,
      layers: [
        { type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu', padding: 'valid' },
        { type: 'maxPool2d', poolSize: 2 },
        { type: 'flatten' },
        { type: 'dense', units: 3, activation: 'softmax' },
      ],
    });
    const model = buildModel(spec, { seed: 1 });
    expect(parameterCount(spec)).toBe(model.countParams());
    model.dispose();
  });

  it('lays weights out in getWeights() order', () => {
    const model = buildModel(MODEL_SPECS.mlp, { seed: 1 });
    expect(weightShapes(model)).toEqual([[784, 200], [200], [200, 200], [200], [200, 10], [10]]);
    model.dispose();
  });
});

describe('seeded initial weights', () => {
  it('gives identical weights for the same seed and different ones for another seed', () => {
    const initial = (seed: number) => {
      const model = buildModel(MODEL_SPECS.cnn, { seed });
      const flat = getFlatWeights(model);
      model.dispose();
      return flat;
    };
    const [a, b, c] = [initial(42), initial(42), initial(43)];
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    let differing = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== c[i]) differing++;
    expect(differing).toBeGreaterThan(a.length * 0.9); // all kernels differ; only the zero biases agree
  });

  it('draws Glorot-uniform kernels (independent per layer) and zero biases', () => {
    const model = buildModel(MODEL_SPECS.mlp, { seed: 5 });
    const [k1, b1, k2] = model.getWeights().map((t) => t.dataSync() as Float32Array);
    expect(b1.every((v) => v === 0)).toBe(true);
    const limit = Math.sqrt(6 / (784 + 200));
    const largest = k1.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(largest).toBeLessThanOrEqual(limit);
    expect(largest).toBeGreaterThan(limit * 0.99);
    expect(Array.from(k2.slice(0, 8))).not.toEqual(Array.from(k1.slice(0, 8)));
    model.dispose();
  });

  it('rejects seeds outside [0, 2^32)', () => {
    expect(() => buildModel(MODEL_SPECS.logreg, { seed: -1 })).toThrow(/seed/);
    expect(() => buildModel(MODEL_SPECS.logreg, { seed: 1.5 })).toThrow(/seed/);
  });
});

describe('flat weights', () => {
  it('round-trips, and the model keeps its own copy', () => {
    const source = buildModel(MODEL_SPECS.cnn, { seed: 1 });
    const target = buildModel(MODEL_SPECS.cnn, { seed: 2 });
    const flat = getFlatWeights(source);
    const before = tf.memory().numTensors;
    setFlatWeights(target, flat);
    expect(tf.memory().numTensors).toBe(before);
    const copy = flat.slice();
    flat.fill(0);
    expect(Buffer.from(getFlatWeights(target).buffer).equals(Buffer.from(copy.buffer))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    source.dispose();
    target.dispose();
  });

  it('rejects a vector of the wrong length or with non-finite values, leaving the model unchanged', () => {
    const model = buildModel(MODEL_SPECS.logreg, { seed: 3 });
    const flat = getFlatWeights(model);
    expect(() => setFlatWeights(model, flat.subarray(1))).toThrow(/7849 values.*needs 7850/);
    expect(() => setFlatWeights(model, new Float32Array(7851))).toThrow(/7851 values/);
    const withNaN = flat.slice();
    withNaN[1234] = Number.NaN;
    expect(() => setFlatWeights(model, withNaN)).toThrow(/non-finite value \(NaN\) at index 1234/);
    const withInfinity = flat.slice();
    withInfinity[7849] = Number.POSITIVE_INFINITY;
    expect(() => setFlatWeights(model, withInfinity)).toThrow(/non-finite value \(Infinity\) at index 7849/);
    expect(getFlatWeights(model)).toEqual(flat);
    model.dispose();
  });
});
