/**
 * The SGD loop on the calling thread, with nothing but tfjs: shared by Node (train.ts, which adds
 * data-parallel workers) and the browser/renderer training worker (browser/training-worker.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { featureSize, type Dataset } from '../data/dataset.js';
import { classWeightsFor, type ClassWeighting } from './class-weights.js';
import { countCorrect, crossEntropy } from './loss.js';
import { proximalTerm } from './proximal.js';
import { shuffledIndices } from './shuffle.js';

export interface TrainProgress {
  epoch: number;
  /** 0-based index of the batch within its epoch. */
  batch: number;
  batches: number;
  /** Mean loss of this batch. */
  loss: number;
  /** Examples trained so far in this call, and their rate (for a live "samples/s"). */
  examples: number;
  examplesPerSecond: number;
  /** What trains, e.g. "wasm (WebAssembly SIMD), 2 worker threads" (the same in every event of a call). */
  backend: string;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Fixes the example order of every epoch. */
  seed: number;
  onProgress?: (progress: TrainProgress) => void;
  /**
   * FedProx's μ: adds μ/2 ‖w − w₀‖² to the local objective, w₀ being the weights this call starts
   * from (the global model of the round; proximal.ts). Unset or 0: plain SGD.
   */
  proximalMu?: number;
  /** 'balanced': each example's loss weighs n/(k·n_c), from this dataset's own label counts (class-weights.ts). */
  classWeights?: ClassWeighting;
  /**
   * Worker threads for data-parallel training on the wasm backend. Unset or 0: automatic (see
   * `trainingThreads`); 1: train on the calling thread only; n > 1: n workers. The environment
   * variable COVEY_TRAIN_THREADS (a number, or "auto") applies when this is unset.
   */
  threads?: number;
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
  /** What trained, e.g. "wasm (WebAssembly SIMD), 2 worker threads" or "cpu (plain JavaScript)". */
  backend: string;
  /** Threads that computed gradients: 1 on the calling thread, n with data-parallel workers. */
  threads: number;
}

export function checkCompatible(model: tf.LayersModel, dataset: Dataset): void {
  const modelShape = model.inputs[0].shape.slice(1).join(',');
  if (modelShape !== dataset.inputShape.join(',')) {
    throw new Error(`model '${model.name}' takes inputs [${modelShape}], the dataset has [${dataset.inputShape.join(',')}]`);
  }
  const outputs = model.outputs[0].shape[1];
  if (outputs !== dataset.numClasses) {
    throw new Error(`model '${model.name}' has ${outputs} outputs, the dataset has ${dataset.numClasses} classes`);
  }
  if (dataset.count < 1 || dataset.features.length !== dataset.count * featureSize(dataset) || dataset.labels.length !== dataset.count) {
    throw new Error(`dataset is empty or its arrays do not match its count (${dataset.count})`);
  }
}

export function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
}

/**
 * Lets sockets and timers run between batches: setImmediate in Node, a MessageChannel round trip
 * in browsers and workers (setTimeout(0) is clamped to 4 ms there once nested).
 */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** What the local objective adds to the mean cross-entropy: class weights [k] and FedProx's anchor weights. */
interface Objective {
  classWeights: tf.Tensor1D | null;
  proximal: { mu: number; anchors: tf.Tensor[] } | null;
}

/** One SGD step on a batch; returns the batch's (weighted) mean loss and its count of correct predictions. */
function sgdStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  objective: Objective,
  x: Float32Array,
  y: Int32Array,
  inputShape: number[],
  numClasses: number,
): [number, number] {
  const stats = tf.tidy(() => {
    const xs = tf.tensor(x, [y.length, ...inputShape], 'float32');
    const ys = tf.tensor1d(y, 'int32');
    const kept: tf.Scalar[] = [];
    const { proximal } = objective;
    optimizer.minimize(
      () => {
        const probs = model.apply(xs, { training: true }) as tf.Tensor2D;
        kept.push(tf.keep(countCorrect(probs, ys)));
        const loss = crossEntropy(probs, ys, numClasses, objective.classWeights);
        // The reported loss is the data term (a clone: minimize disposes the cost it returns); the proximal term only steers the step.
        kept.push(tf.keep(loss.clone()));
        return proximal ? tf.add(loss, proximalTerm(variables, proximal.anchors, proximal.mu)) : loss;
      },
      false,
      variables,
    );
    const loss = kept[1];
    const both = tf.stack([loss, kept[0]]);
    kept.forEach((t) => t.dispose());
    return both;
  });
  const [loss, correct] = stats.dataSync();
  stats.dispose();
  return [loss, correct];
}

/** Throws unless `opts` are usable training options. */
export function checkTrainOptions(opts: TrainOptions): void {
  checkPositiveInt('epochs', opts.epochs);
  checkPositiveInt('batchSize', opts.batchSize);
  if (!(opts.learningRate > 0 && Number.isFinite(opts.learningRate))) {
    throw new Error(`learningRate must be a positive number, got ${opts.learningRate}`);
  }
  if (opts.proximalMu !== undefined && !(opts.proximalMu >= 0 && Number.isFinite(opts.proximalMu))) {
    throw new Error(`proximalMu must be a non-negative number, got ${opts.proximalMu}`);
  }
}

/** Multiply-adds of one example's forward pass through the model's conv and dense kernels. */
export function forwardMacsPerExample(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const kernel = layer.weights.find((w) => /kernel$/.test(w.originalName));
    if (!kernel) continue;
    const out = layer.outputShape as (number | null)[];
    const positions = out.slice(1, -1).reduce((a: number, d) => a * (d ?? 1), 1);
    macs += kernel.shape.reduce((a: number, d) => a * (d ?? 1), 1) * positions;
  }
  return macs;
}

/** `trainLocal` on the calling thread: plain minibatch SGD, `backend` naming what runs for the reports. */
export async function trainOnThisThread(model: tf.LayersModel, dataset: Dataset, opts: TrainOptions, backend: string): Promise<TrainResult> {
  const { count, inputShape, numClasses, features, labels } = dataset;
  const size = featureSize(dataset);
  const batches = Math.ceil(count / opts.batchSize);
  const xBuffer = new Float32Array(Math.min(opts.batchSize, count) * size);
  const yBuffer = new Int32Array(Math.min(opts.batchSize, count));
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const weights = classWeightsFor(dataset, opts.classWeights);
  const objective: Objective = {
    classWeights: weights && tf.tensor1d(weights, 'float32'),
    proximal: opts.proximalMu ? { mu: opts.proximalMu, anchors: variables.map((v) => v.clone()) } : null,
  };
  const optimizer = tf.train.sgd(opts.learningRate);
  const started = performance.now();
  let lossSum = 0;
  let correct = 0;
  let examples = 0;
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
        const [loss, right] = sgdStep(
          model,
          optimizer,
          variables,
          objective,
          xBuffer.subarray(0, rows * size),
          yBuffer.subarray(0, rows),
          inputShape,
          numClasses,
        );
        lossSum += loss * rows;
        correct += right;
        examples += rows;
        const seconds = (performance.now() - started) / 1000;
        opts.onProgress?.({ epoch, batch, batches, loss, examples, examplesPerSecond: examples / seconds, backend });
        await yieldToEventLoop();
      }
    }
  } finally {
    optimizer.dispose();
    tf.dispose([objective.classWeights ?? [], objective.proximal?.anchors ?? []]);
  }
  const seconds = (performance.now() - started) / 1000;
  const total = count * opts.epochs;
  return { loss: lossSum / count, accuracy: correct / count, examples: total, seconds, examplesPerSecond: total / seconds, backend, threads: 1 };
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
