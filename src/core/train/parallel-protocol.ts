/**
 * What the data-parallel trainer (parallel.ts, main thread) and its workers (parallel-worker.ts)
 * share: the job description and the layout of the shared control block.
 */

/** Int32 slots of the control block (one SharedArrayBuffer per job). */
export const CONTROL = {
  /** Workers that reached the current barrier. */
  count: 0,
  /** Barrier generation: bumped each time all workers have arrived. */
  generation: 1,
  /** Set to 1 to make every worker leave the job at its next barrier. */
  abort: 2,
  slots: 4,
} as const;

import type { Dataset } from '../data/dataset.js';
import type { TrainOptions } from './sgd.js';

/** The dataset's description and the optimiser settings, as both sides of a job see them. */
export type JobShape = Pick<Dataset, 'count' | 'inputShape' | 'numClasses'> & Pick<TrainOptions, 'epochs' | 'batchSize' | 'learningRate' | 'seed'>;

export interface ParallelJob extends JobShape {
  /** The model's topology, `model.toJSON(undefined, false)` as a string (also the replica cache key). */
  topology: string;
  /** Shapes of `model.weights`, in order: the flat layout of `weights` and of each gradient row. */
  shapes: number[][];
  /** Flat weights (Float32, `params` long): the initial weights in, the trained weights out. */
  weights: SharedArrayBuffer;
  /** One Float32 row of `params` per worker: its shard's mean-loss gradient of the current step. */
  grads: SharedArrayBuffer;
  /** Int32 control block, `CONTROL` layout. */
  control: SharedArrayBuffer;
  /** Float64 [loss, correct, rows] per worker for the current step. */
  stats: SharedArrayBuffer;
  features: SharedArrayBuffer;
  /** Element offset of the dataset's first feature in `features` (Float32). */
  featuresOffset: number;
  labels: SharedArrayBuffer;
  /** Byte offset of the first label in `labels` (Uint8). */
  labelsOffset: number;
  /** FedProx's μ (0: plain SGD); the anchor is the job's initial weights. */
  proximalMu: number;
  /** Per-class loss weights [numClasses] (class-weights.ts), or null for the plain mean loss. */
  classWeights: Float32Array | null;
}

export type ToWorker = { type: 'job'; job: ParallelJob } | { type: 'warm-up' };

export type FromWorker =
  | { type: 'ready'; label: string }
  | { type: 'step'; epoch: number; batch: number; loss: number; correct: number }
  | { type: 'done' }
  | { type: 'error'; message: string }
  | { type: 'fatal'; message: string };

/** Rows [lo, hi) of a batch of `rows` that worker `index` of `workers` takes. */
export function shardOf(rows: number, index: number, workers: number): [number, number] {
  return [Math.floor((rows * index) / workers), Math.floor((rows * (index + 1)) / workers)];
}
