/**
 * One round's local training as a job: what `trainLocal` does to a model, stated as data so that
 * it can run elsewhere (the app's renderer worker, core/train/browser) and come back as weights.
 * The privacy pipeline after it (delta, clip, noise, seal, ledger) sees only the trained weights:
 * where they were computed changes nothing it does.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { setTrainableLayers } from '../model/build.js';
import type { ModelSpec } from '../model/spec.js';
import { getFlatWeights, setFlatWeights } from '../model/weights.js';
import { trainLocal, type TrainOptions, type TrainProgress, type TrainResult } from './train.js';

/** The training settings a job carries (the round's, and the shuffle seed). */
export type TrainJobOptions = Pick<TrainOptions, 'epochs' | 'batchSize' | 'learningRate' | 'seed' | 'proximalMu' | 'classWeights'>;

export interface TrainJob {
  spec: ModelSpec;
  /** The weights training starts from (the round's global model, `getFlatWeights` layout); never changed. */
  weights: Float32Array;
  /** Fine-tuning: the only layers that train (absent: all). */
  trainable?: readonly string[];
  data: Dataset;
  opts: TrainJobOptions;
  onProgress?: (progress: TrainProgress) => void;
}

export interface TrainedWeights {
  /** The whole model's weights after training, `getFlatWeights` layout. */
  weights: Float32Array;
  result: TrainResult;
}

export type Trainer = (job: TrainJob) => Promise<TrainedWeights>;

/** The in-process trainer: `trainLocal` on `model` (built from the job's spec), from the job's weights. */
export function inProcessTrainer(model: tf.LayersModel): Trainer {
  return async ({ weights, trainable, data, opts, onProgress }) => {
    setFlatWeights(model, weights);
    setTrainableLayers(model, trainable);
    const result = await trainLocal(model, data, { ...opts, onProgress });
    return { weights: getFlatWeights(model), result };
  };
}

/** A trainer that may run a job elsewhere, given the in-process trainer to run it with (or to fall back on). */
export type RoundTrainer = (job: TrainJob, local: Trainer) => Promise<TrainedWeights>;
