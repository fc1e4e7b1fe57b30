/**
 * Data-parallel SGD across worker threads, for the wasm backend (which tfjs keeps single-threaded
 * under Node). Each worker holds a wasm backend and a replica of the model; every step the batch
 * is split into one contiguous shard per worker, each worker computes its shard's gradient, and
 * the workers average them (weighted by shard size, so the result is the batch's mean-loss
 * gradient) and apply the same SGD update to shared weights. The loss curve is the single-thread
 * one up to float summation order. The pool of workers is started on first use and kept (unref'd)
 * for later calls; `stopTrainingWorkers` ends it.
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Dataset } from '../data/dataset.js';
import { workerBootstrap } from '../workers/bootstrap.js';
import { CONTROL, type FromWorker, type JobShape, type ParallelJob, type ToWorker } from './parallel-protocol.js';

/** What a parallel run reports per step (the batch's mean loss and correct count). */
export interface ParallelStep {
  epoch: number;
  batch: number;
  loss: number;
  correct: number;
}

export interface ParallelJobSpec extends JobShape, Pick<Dataset, 'features' | 'labels'>, Pick<ParallelJob, 'proximalMu' | 'classWeights'> {
  model: tf.LayersModel;
}

/** Raised when the workers cannot start here; the caller then trains on the main thread. */
export class WorkersUnavailable extends Error {}

const READY_TIMEOUT_MS = 120_000;

/** The worker bootstrap; tfjs warns that its platform "has already been set" when a thread loads it: noise for the user. */
function workerSource(): string {
  return workerBootstrap(
    import.meta.url,
    'parallel-worker',
    `const warn = console.warn;
console.warn = (...args) => { if (!/^Platform \\w+ has already been set/.test(String(args[0]))) warn(...args); };`,
  );
}

type Handler = (index: number, message: FromWorker) => void;

class Pool {
  readonly workers: Worker[] = [];
  readonly ready: Promise<string>;
  busy = false;
  broken: Error | null = null;
  private handler: Handler | null = null;
  private onCrash: ((error: Error) => void) | null = null;

  constructor(readonly size: number) {
    const source = workerSource();
    const readies: Promise<string>[] = [];
    for (let index = 0; index < size; index++) {
      const worker = new Worker(source, { eval: true, workerData: { index, workers: size } });
      worker.unref();
      this.workers.push(worker);
      readies.push(
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new WorkersUnavailable(`training worker ${index} did not start within ${READY_TIMEOUT_MS / 1000} s`)),
            READY_TIMEOUT_MS,
          );
          timer.unref();
          worker.on('message', (message: FromWorker) => {
            if (message.type === 'ready') {
              clearTimeout(timer);
              resolve(message.label);
            } else if (message.type === 'fatal') {
              clearTimeout(timer);
              reject(new WorkersUnavailable(`training worker ${index} failed to start: ${message.message}`));
            } else {
              this.handler?.(index, message);
            }
          });
          const crash = (error: Error) => {
            clearTimeout(timer);
            this.broken ??= error;
            reject(new WorkersUnavailable(error.message));
            this.onCrash?.(error);
          };
          worker.on('error', (error) => crash(error));
          worker.on('exit', (code) => crash(new Error(`training worker ${index} exited (code ${code})`)));
        }),
      );
    }
    this.ready = Promise.all(readies).then((labels) => labels[0]);
    this.ready.catch(() => undefined);
  }

  /** Runs one job on every worker; `onStep` hears each finished step (from worker 0). */
  run(job: ParallelJob, onStep: (step: ParallelStep) => void): Promise<void> {
    const control = new Int32Array(job.control);
    const abort = () => {
      Atomics.store(control, CONTROL.abort, 1);
      Atomics.notify(control, CONTROL.generation);
    };
    return new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failure: Error | null = null;
      const finish = () => {
        this.handler = null;
        this.onCrash = null;
        for (const w of this.workers) w.unref();
        if (failure) reject(failure);
        else resolve();
      };
      this.handler = (_index, message) => {
        if (message.type === 'step') {
          try {
            if (!failure) onStep(message);
          } catch (error) {
            failure = error as Error;
            abort();
          }
        } else if (message.type === 'error' || message.type === 'done') {
          if (message.type === 'error') {
            failure ??= new Error(`training worker failed: ${message.message}`);
            abort();
          }
          if (++finished === this.size) finish();
        }
      };
      this.onCrash = (error) => {
        failure ??= error;
        abort();
        finish();
      };
      for (const w of this.workers) w.ref();
      const message: ToWorker = { type: 'job', job };
      for (const w of this.workers) w.postMessage(message);
    });
  }

  async terminate(): Promise<void> {
    this.broken ??= new Error('the training workers were stopped');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let pool: Pool | null = null;

/** Ends the training worker threads (they are otherwise kept, unref'd, for the next call). */
export async function stopTrainingWorkers(): Promise<void> {
  const p = pool;
  pool = null;
  if (p) await p.terminate();
}

/**
 * Starts (or keeps) a pool of `size` training workers now, so that the next `trainLocal` on wasm
 * skips their cold start (a second or more: each loads tfjs and compiles wasm). Resolves to their
 * backend label; rejects if they cannot start here. Call it while waiting, e.g. for a round.
 */
export async function startTrainingWorkers(size = Math.min(availableCores(), 8)): Promise<string> {
  const acquired = await acquire(size);
  if (acquired === null) throw new Error('the training workers are busy with another call');
  acquired.pool.busy = false;
  return acquired.label;
}

/** Whether a pool of `size` workers is running (or starting) and idle: a call can use it without a cold start. */
export function trainingWorkersStarted(size: number): boolean {
  return pool !== null && pool.size === size && !pool.broken && !pool.busy;
}

/** A started pool of `size` workers (reused if one is idle), and the backend label they report. */
async function acquire(size: number): Promise<{ pool: Pool; label: string } | null> {
  if (pool && (pool.size !== size || pool.broken)) {
    if (pool.busy) return null; // another training call holds it: that caller keeps it
    await stopTrainingWorkers();
  }
  if (pool?.busy) return null;
  const p = (pool ??= new Pool(size));
  p.busy = true;
  try {
    const label = await p.ready;
    return { pool: p, label };
  } catch (error) {
    p.busy = false;
    if (pool === p) await stopTrainingWorkers();
    throw error;
  }
}

function sharedCopy<T extends Float32Array | Uint8Array>(array: T): { buffer: SharedArrayBuffer; offset: number } {
  if (array.buffer instanceof SharedArrayBuffer) return { buffer: array.buffer, offset: array.byteOffset / array.BYTES_PER_ELEMENT };
  const buffer = new SharedArrayBuffer(array.byteLength);
  new Uint8Array(buffer).set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return { buffer, offset: 0 };
}

/** The number of usable CPU cores. */
export function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Trains `spec.model` in place with `workers` threads. Resolves to the backend label, or null
 * when the pool is busy with another call (train on the main thread then). Throws
 * WorkersUnavailable if the workers cannot start (before anything changed), any other error if
 * training itself failed (the model is then left unchanged).
 */
export async function trainDataParallel(spec: ParallelJobSpec, workers: number, onStep: (step: ParallelStep, label: string) => void): Promise<string | null> {
  const acquired = await acquire(workers);
  if (acquired === null) return null;
  const { pool: p, label } = acquired;
  try {
    const { model } = spec;
    const shapes = model.weights.map((w) => w.shape as number[]);
    const params = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    const weights = new SharedArrayBuffer(params * 4);
    const initial = new Float32Array(weights);
    let offset = 0;
    for (const t of model.getWeights()) {
      initial.set(t.dataSync(), offset);
      offset += t.size;
    }
    const features = sharedCopy(spec.features.subarray(0, spec.count * spec.inputShape.reduce((a, b) => a * b, 1)));
    const labels = sharedCopy(spec.labels.subarray(0, spec.count));
    const job: ParallelJob = {
      topology: JSON.stringify(model.toJSON(undefined, false)),
      shapes,
      weights,
      grads: new SharedArrayBuffer(workers * params * 4),
      control: new SharedArrayBuffer(CONTROL.slots * 4),
      stats: new SharedArrayBuffer(workers * 3 * 8),
      features: features.buffer,
      featuresOffset: features.offset,
      labels: labels.buffer,
      labelsOffset: labels.offset,
      count: spec.count,
      inputShape: spec.inputShape,
      numClasses: spec.numClasses,
      epochs: spec.epochs,
      batchSize: spec.batchSize,
      learningRate: spec.learningRate,
      seed: spec.seed,
      proximalMu: spec.proximalMu,
      classWeights: spec.classWeights,
    };
    const fullLabel = `${label}, ${workers} worker threads`;
    await p.run(job, (step) => onStep(step, fullLabel));
    tf.tidy(() => {
      let at = 0;
      for (const w of model.weights) {
        const size = w.shape.reduce((a: number, b) => a * (b as number), 1);
        // slice: the variable must not alias the shared buffer.
        w.write(tf.tensor(initial.slice(at, at + size), w.shape as number[], 'float32'));
        at += size;
      }
    });
    return fullLabel;
  } finally {
    p.busy = false;
  }
}
