import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { activeBackendLabel } from './backend.js';
import { classWeightsFor } from './class-weights.js';
import { availableCores, trainDataParallel, trainingWorkersStarted, WorkersUnavailable } from './parallel.js';
import { checkCompatible, checkPositiveInt, checkTrainOptions, forwardMacsPerExample, trainOnThisThread, type TrainOptions, type TrainResult } from './sgd.js';

export { evaluate, forwardMacsPerExample } from './sgd.js';
export type { TrainOptions, TrainProgress, TrainResult } from './sgd.js';

/** Models smaller than this train faster on one thread than the workers can synchronise. */
const MIN_PARALLEL_PARAMS = 20_000;
/** A cold start of the workers (loading tfjs and wasm in each) is only worth it for a call estimated to train this long on one thread. */
const MIN_COLD_START_SECONDS = 5;
/** The wasm backend's rough single-thread training throughput, multiply-adds per second (forward and backward). */
const WASM_MACS_PER_SECOND = 1e10;
/** Rough fixed cost of a training step on wasm (op dispatch, small kernels). */
const STEP_OVERHEAD_SECONDS = 0.002;
/** Fewest rows of a batch each worker gets in automatic mode. */
const MIN_ROWS_PER_WORKER = 4;
/**
 * Least work per worker and step (multiply-adds, forward and backward) for automatic mode: below
 * it the fixed per-step costs (op dispatch, two barriers, the weight exchange) outweigh the split.
 * Measured here: the MLP (0.2M multiply-adds per example) ran 3.5× slower on two workers at batch
 * 32; the CNN (12M) gained from batch 10 up.
 */
const MIN_MACS_PER_WORKER_STEP = 50e6;
/** At most this many workers in automatic mode (each one is a full model replica). */
const MAX_AUTO_WORKERS = 8;

function requestedThreads(opts: TrainOptions): number | 'auto' {
  if (opts.threads !== undefined && opts.threads !== 0) return opts.threads;
  const env = typeof process !== 'undefined' ? process.env.COVEY_TRAIN_THREADS?.trim() : undefined;
  if (!env || env.toLowerCase() === 'auto' || env === '0') return 'auto';
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`COVEY_TRAIN_THREADS must be a positive integer or 'auto', got '${env}'`);
  return n;
}

/**
 * How many threads `trainLocal` uses for this call: the `threads` option or COVEY_TRAIN_THREADS
 * when given; otherwise, on the wasm backend with all weights trainable and a model of at least
 * 20,000 parameters, one worker per core (at most 8) while each gets at least 4 rows of a batch
 * and 50M multiply-adds per step (so the CNN splits, the MLP at batch 32 does not), and the
 * workers are running already or the work (of this call, or of the calls so far) pays for their
 * start, unless one thread was measured faster for this model and batch size (see ModeStats);
 * else 1 (the calling thread: native TensorFlow is multithreaded already, WebGL/WebGPU run on the GPU).
 */
export function trainingThreads(model: tf.LayersModel, dataset: Pick<Dataset, 'count'>, opts: TrainOptions): number {
  const requested = requestedThreads(opts);
  // The workers exchange exactly the trainable weights: a model with others trains on this thread.
  if (model.trainableWeights.length !== model.weights.length) return 1;
  if (requested !== 'auto') {
    checkPositiveInt('threads', requested);
    return requested;
  }
  if (tf.getBackend() !== 'wasm') return 1;
  const rows = Math.min(opts.batchSize, dataset.count);
  const workers = workersWorthSplitting(model, rows);
  const stepMacs = 3 * forwardMacsPerExample(model) * rows;
  if (workers > 1 && !trainingWorkersStarted(workers)) {
    // Worth a cold start once this call, or the calls so far in this process, train long enough.
    const steps = Math.ceil(dataset.count / opts.batchSize) * opts.epochs;
    const seconds = steps * (stepMacs / WASM_MACS_PER_SECOND + STEP_OVERHEAD_SECONDS);
    if (seconds + singleThreadSeconds < MIN_COLD_START_SECONDS) return 1;
  }
  return workers > 1 ? fasterMode(modeKey(model, rows), workers) : 1;
}

/**
 * How many workers a batch of `rows` rows of `model` can be split over with gain, by the static
 * rules of automatic mode (cores, at most 8, ≥ 4 rows and ≥ 50M multiply-adds per worker and
 * step, ≥ 20,000 parameters); 1 if none. Automatic mode then also weighs the cold start and what
 * it measured (see `trainingThreads`).
 */
export function workersWorthSplitting(model: tf.LayersModel, rows: number): number {
  if (model.countParams() < MIN_PARALLEL_PARAMS) return 1;
  const stepMacs = 3 * forwardMacsPerExample(model) * rows;
  return Math.max(1, Math.min(availableCores(), Math.floor(rows / MIN_ROWS_PER_WORKER), Math.floor(stepMacs / MIN_MACS_PER_WORKER_STEP), MAX_AUTO_WORKERS));
}

/**
 * Measured throughput of this process's automatic-mode calls, per model and batch: the workers
 * meet twice a step, so on a machine whose cores are busy with other work they can run slower
 * than one thread. Automatic mode measures both (one call each), keeps the faster, and tries the
 * other again every PROBE_EVERY calls (the machine's load changes).
 */
interface ModeStats {
  one?: number;
  many?: number;
  calls: number;
}
const PROBE_EVERY = 8;
const modeStats = new Map<string, ModeStats>();

function modeKey(model: tf.LayersModel, rows: number): string {
  return `${model.name}|${model.countParams()}|${rows}`;
}

function fasterMode(key: string, workers: number): number {
  const stats = modeStats.get(key);
  if (stats?.many === undefined) return workers;
  if (stats.one === undefined) return 1;
  const best = stats.many >= stats.one ? workers : 1;
  return (stats.calls + 1) % PROBE_EVERY === 0 ? (best === 1 ? workers : 1) : best;
}

function recordMode(model: tf.LayersModel, dataset: Dataset, opts: TrainOptions, result: TrainResult): void {
  noteTrainingThroughput(model, Math.min(opts.batchSize, dataset.count), result.threads, result.examplesPerSecond);
}

/**
 * Tells automatic mode a measured throughput of `model` at batches of `rows` on `threads`
 * threads (trainLocal notes its own calls on wasm; an app may replay ones it persisted).
 */
export function noteTrainingThroughput(model: tf.LayersModel, rows: number, threads: number, examplesPerSecond: number): void {
  const key = modeKey(model, rows);
  const stats = modeStats.get(key) ?? { calls: 0 };
  stats.calls++;
  if (threads > 1) stats.many = examplesPerSecond;
  else stats.one = examplesPerSecond;
  modeStats.set(key, stats);
}

/** Estimated seconds of automatic-mode training done on one thread so far (see `trainingThreads`). */
let singleThreadSeconds = 0;

/** Why the last automatic attempt to start training workers failed (then every call trains on one thread). */
let workersUnavailable: string | null = null;

/** Null while data-parallel training works here; else why it does not (it was tried and failed to start). */
export function trainingWorkersUnavailable(): string | null {
  return workersUnavailable;
}

/**
 * Plain minibatch SGD on `dataset`, in place on `model`. Each epoch visits every example once in
 * a seeded shuffled order; the last batch of an epoch may be smaller. Leaves no tensors behind.
 * On the wasm backend it splits each batch over worker threads (see `trainingThreads`); the loss
 * curve is the same as on one thread up to float rounding, and it falls back to one thread when
 * the workers cannot start.
 */
export async function trainLocal(model: tf.LayersModel, dataset: Dataset, opts: TrainOptions): Promise<TrainResult> {
  checkCompatible(model, dataset);
  checkTrainOptions(opts);
  const threads = trainingThreads(model, dataset, opts);
  const explicit = requestedThreads(opts) !== 'auto';
  const onWasm = tf.getBackend() === 'wasm';
  if (threads > 1 && (explicit || workersUnavailable === null)) {
    try {
      const result = await trainOnWorkers(model, dataset, opts, threads);
      if (result) {
        if (onWasm) recordMode(model, dataset, opts, result);
        return result;
      }
    } catch (error) {
      if (!(error instanceof WorkersUnavailable) || explicit) throw error;
      workersUnavailable = error.message;
    }
  }
  const result = await trainOnThisThread(model, dataset, opts, activeBackendLabel());
  if (onWasm) {
    singleThreadSeconds += result.seconds;
    recordMode(model, dataset, opts, result);
  }
  return result;
}

async function trainOnWorkers(model: tf.LayersModel, dataset: Dataset, opts: TrainOptions, threads: number): Promise<TrainResult | null> {
  const { count } = dataset;
  const batches = Math.ceil(count / opts.batchSize);
  const started = performance.now();
  let lossSum = 0;
  let correct = 0;
  let examples = 0;
  const trained = await trainDataParallel(
    {
      ...dataset,
      model,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      learningRate: opts.learningRate,
      seed: opts.seed,
      proximalMu: opts.proximalMu ?? 0,
      classWeights: classWeightsFor(dataset, opts.classWeights),
    },
    threads,
    (step, label) => {
      if (step.batch === 0) {
        lossSum = 0;
        correct = 0;
      }
      const rows = Math.min(opts.batchSize, count - step.batch * opts.batchSize);
      lossSum += step.loss * rows;
      correct += step.correct;
      examples += rows;
      const seconds = (performance.now() - started) / 1000;
      opts.onProgress?.({ epoch: step.epoch, batch: step.batch, batches, loss: step.loss, examples, examplesPerSecond: examples / seconds, backend: label });
    },
  );
  if (trained === null) return null;
  const seconds = (performance.now() - started) / 1000;
  const total = count * opts.epochs;
  return { loss: lossSum / count, accuracy: correct / count, examples: total, seconds, examplesPerSecond: total / seconds, backend: trained, threads };
}
