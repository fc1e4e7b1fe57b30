/** Messages between the app's renderer and its training worker (training-worker.ts). */
import type { ModelSpec } from '../../model/spec.js';
import type { TrainOptions, TrainProgress, TrainResult } from '../sgd.js';
import type { BackendChoice, BrowserBackendName } from './backends.js';

/** A dataset as it crosses to the worker (its arrays are transferred, not copied). */
export interface TransferDataset {
  features: Float32Array;
  labels: Uint8Array;
  count: number;
  inputShape: number[];
  numClasses: number;
}

export interface SelectRequest {
  type: 'select';
  id: number;
  spec: ModelSpec;
  candidates?: BrowserBackendName[];
  batchSize?: number;
  cached?: BackendChoice | null;
  wasmPaths?: string;
}

export interface TrainRequest {
  type: 'train';
  id: number;
  spec: ModelSpec;
  /** Starting weights, `getFlatWeights` layout. */
  weights: Float32Array;
  data: TransferDataset;
  /** The round's training settings (FedProx's μ and class weights included) and the shuffle seed. */
  opts: Pick<TrainOptions, 'epochs' | 'batchSize' | 'learningRate' | 'seed' | 'proximalMu' | 'classWeights'>;
}

export type TrainerRequest = SelectRequest | TrainRequest;

export type TrainerResponse =
  | { type: 'backend'; id: number; choice: BackendChoice }
  | { type: 'progress'; id: number; progress: TrainProgress }
  | { type: 'trained'; id: number; weights: Float32Array; result: TrainResult }
  | { type: 'log'; id: number; line: string }
  | { type: 'error'; id: number; message: string };
