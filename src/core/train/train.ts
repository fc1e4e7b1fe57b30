import * as tf from '@tensorflow/tfjs';
import { featureSize, type Dataset } from '../data/dataset.js';
import { shuffledIndices } from './shuffle.js';

export interface TrainProgress {
  epoch: number;
  /** 0-based index of the batch within its epoch. */
  batch: number;
  batches: number;
  /** Mean loss of this batch. */
  loss: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Fixes the example order of every epoch. */
  seed: number;
  onProgress?: (progress: TrainProgress) => void;
}

export interface TrainResult {
  /** Mean training loss over the last epoch (each batch measured before its step). */
  loss: number;
  /** Training accuracy over the last epoch, measured the same way. */
  accuracy: number;
  /** Examples processed, all epochs together. */
  examples: number;
  seconds: number;
  examplesPerSecond: number;
}

/** Probabilities are clipped here before the log, as Keras does. */
const EPSILON = 1e-7;

/** Mean cross-entropy of softmax outputs `probs` [n, k] against integer `labels` [n]. */
function crossEntropy(probs: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Scalar {
  const picked = tf.sum(tf.mul(probs, tf.oneHot(labels, numClasses)), 1);
  return tf.neg(tf.mean(tf.log(tf.clipByValue(picked, EPSILON, 1)))) as tf.Scalar;
}

function countCorrect(probs: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), labels), 'float32'));
}

function checkCompatible(model: tf.LayersModel, dataset: Dataset): void {
  const modelShape = model.inputs[0].shape.slice(1).join(',');
  if (modelShape !== dataset.inputShape.join(',')) {
    throw new Error(`model '${model.name}' takes inputs [${modelShape}], the dataset has [${dataset.inputShape}]`);
  }
  const outputs = model.outputs[0].shape[1];
  if (outputs !== dataset.numClasses) {
    throw new Error(`model '${model.name}' has ${outputs} outputs, the dataset has ${dataset.numClasses} classes`);
  }
  if (dataset.count < 1 || dataset.features.length !== dataset.count * featureSize(dataset) || dataset.labels.length !== dataset.count) {
    throw new Error(`dataset is empty or its arrays do not match its count (${dataset.count})`);
  }
}

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
}

/** Lets sockets and timers run between batches (setImmediate where it exists: no 4 ms clamp). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** One SGD step on a batch; returns the batch's mean loss and its count of correct predictions. */
function sgdStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  x: Float32Array,
  y: Int32Array,
  inputShape: number[],
  numClasses: number,
): [number, number] {
  const stats = tf.tidy(() => {
    const xs = tf.tensor(x, [y.length, ...inputShape], 'float32');
    const ys = tf.tensor1d(y, 'int32');
    const kept: tf.Scalar[] = [];
    const loss = optimizer.minimize(
      () => {
        const probs = model.apply(xs, { training: true }) as tf.Tensor2D;
        kept.push(tf.keep(countCorrect(probs, ys)));
        return crossEntropy(probs, ys, numClasses);
      },
      true,
      variables,
    ) as tf.Scalar;
    const both = tf.stack([loss, kept[0]]);
    kept[0].dispose();
    return both;
  });
  const [loss, correct] = stats.dataSync();
  stats.dispose();
  return [loss, correct];
}

/**
 * Plain minibatch SGD on `dataset`, in place on `model`. Each epoch visits every example once in
 * a seeded shuffled order; the last batch of an epoch may be smaller. Leaves no tensors behind.
 */
export async function trainLocal(model: tf.LayersModel, dataset: Dataset, opts: TrainOptions): Promise<TrainResult> {
  checkCompatible(model, dataset);
  checkPositiveInt('epochs', opts.epochs);
  checkPositiveInt('batchSize', opts.batchSize);
  if (!(opts.learningRate > 0 && Number.isFinite(opts.learningRate))) {
    throw new Error(`learningRate must be a positive number, got ${opts.learningRate}`);
  }
  const { count, inputShape, numClasses, features, labels } = dataset;
  const size = featureSize(dataset);
  const batches = Math.ceil(count / opts.batchSize);
  const xBuffer = new Float32Array(Math.min(opts.batchSize, count) * size);
  const yBuffer = new Int32Array(Math.min(opts.batchSize, count));
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = tf.train.sgd(opts.learningRate);
  const started = performance.now();
  let lossSum = 0;
  let correct = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = shuffledIndices(count, opts.seed, epoch);
      lossSum = 0;
      correct = 0;
      for (let batch = 0; batch < batches; batch++) {
        const first = batch * opts.batchSize;
        const rows = Math.min(opts.batchSize, count - first);
        for (let r = 0; r < rows; r++) {
          const index = order[first + r];
          xBuffer.set(features.subarray(index * size, (index + 1) * size), r * size);
          yBuffer[r] = labels[index];
        }
        // The tensors made from these views are disposed inside the step, before the buffers are reused.
        const [loss, right] = sgdStep(model, optimizer, variables, xBuffer.subarray(0, rows * size), yBuffer.subarray(0, rows), inputShape, numClasses);
        lossSum += loss * rows;
        correct += right;
        opts.onProgress?.({ epoch, batch, batches, loss });
        await yieldToEventLoop();
      }
    }
  } finally {
    optimizer.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  const examples = count * opts.epochs;
  return { loss: lossSum / count, accuracy: correct / count, examples, seconds, examplesPerSecond: examples / seconds };
}

/** Mean loss and accuracy of `model` on `dataset`, in contiguous batches. */
export function evaluate(model: tf.LayersModel, dataset: Dataset, batchSize = 500): { loss: number; accuracy: number } {
  checkCompatible(model, dataset);
  checkPositiveInt('batchSize', batchSize);
  const size = featureSize(dataset);
  let lossSum = 0;
  let correct = 0;
  for (let first = 0; first < dataset.count; first += batchSize) {
    const rows = Math.min(batchSize, dataset.count - first);
    const stats = tf.tidy(() => {
      const xs = tf.tensor(dataset.features.subarray(first * size, (first + rows) * size), [rows, ...dataset.inputShape], 'float32');
      const ys = tf.tensor1d(Int32Array.from(dataset.labels.subarray(first, first + rows)), 'int32');
      const probs = model.apply(xs) as tf.Tensor2D;
      return tf.stack([tf.mul(crossEntropy(probs, ys, dataset.numClasses), rows), countCorrect(probs, ys)]);
    });
    const [loss, right] = stats.dataSync();
    stats.dispose();
    lossSum += loss;
    correct += right;
  }
  return { loss: lossSum / dataset.count, accuracy: correct / dataset.count };
}
