/**
 * The renderer's handle on its training worker (training-worker.ts): promise-based, one request
 * at a time on the worker's side.
 *
 *   const trainer = new BrowserTrainer(new Worker(new URL('../core/train/browser/training-worker.ts', import.meta.url), { type: 'module' }));
 *   const choice = await trainer.selectBackend({ spec, cached: JSON.parse(localStorage.getItem('covey.backend') ?? 'null') });
 *   localStorage.setItem('covey.backend', JSON.stringify(choice));   // first run measures, later runs re-check
 *   const { weights, result } = await trainer.train({ spec, weights: global, data, opts }, (p) => show(p.backend, p.examplesPerSecond));
 */
import type { ModelSpec } from '../../model/spec.js';
import type { TrainProgress, TrainResult } from '../sgd.js';
import type { BackendChoice, BrowserBackendName } from './backends.js';
import type { TrainerRequest, TrainerResponse, TransferDataset, TrainRequest } from './protocol.js';

interface WorkerLike {
  postMessage(message: TrainerRequest, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<TrainerResponse>) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  terminate(): void;
}

interface Pending {
  resolve: (value: TrainerResponse) => void;
  reject: (error: Error) => void;
  onProgress?: (progress: TrainProgress) => void;
  onLog?: (line: string) => void;
}

export class BrowserTrainer {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** The backend the worker trains on, once `selectBackend` resolved. */
  backend: BackendChoice | null = null;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (event: MessageEvent<TrainerResponse>) => {
      const message = event.data;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      if (message.type === 'progress') waiting.onProgress?.(message.progress);
      else if (message.type === 'log') waiting.onLog?.(message.line);
      else {
        this.pending.delete(message.id);
        if (message.type === 'error') waiting.reject(new Error(message.message));
        else waiting.resolve(message);
      }
    });
    worker.addEventListener('error', (event: ErrorEvent) => {
      const error = new Error(`the training worker failed: ${event.message}`);
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    });
  }

  private request(request: TrainerRequest, transfer: Transferable[], extra: Omit<Pending, 'resolve' | 'reject'> = {}): Promise<TrainerResponse> {
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject, ...extra });
      this.worker.postMessage(request, transfer);
    });
  }

  /**
   * Measures the candidates (first run) or re-checks `cached`, and keeps the fastest backend that
   * trains correctly for every later `train`. Persist the result and pass it back as `cached`.
   */
  async selectBackend(opts: {
    spec: ModelSpec;
    candidates?: BrowserBackendName[];
    batchSize?: number;
    cached?: BackendChoice | null;
    wasmPaths?: string;
    onLog?: (line: string) => void;
  }): Promise<BackendChoice> {
    const { onLog, ...rest } = opts;
    const response = await this.request({ type: 'select', id: this.nextId++, ...rest }, [], { onLog });
    if (response.type !== 'backend') throw new Error(`unexpected reply '${response.type}'`);
    this.backend = response.choice;
    return response.choice;
  }

  /** Trains a copy of `weights` on `data` in the worker; resolves to the trained weights. `data`'s arrays are copied, not moved. */
  async train(
    job: { spec: ModelSpec; weights: Float32Array; data: TransferDataset; opts: TrainRequest['opts'] },
    onProgress?: (progress: TrainProgress) => void,
  ): Promise<{ weights: Float32Array; result: TrainResult }> {
    const request: TrainRequest = { type: 'train', id: this.nextId++, spec: job.spec, weights: job.weights.slice(), data: job.data, opts: job.opts };
    const response = await this.request(request, [request.weights.buffer], { onProgress });
    if (response.type !== 'trained') throw new Error(`unexpected reply '${response.type}'`);
    return { weights: response.weights, result: response.result };
  }

  terminate(): void {
    this.worker.terminate();
    for (const waiting of this.pending.values()) waiting.reject(new Error('the training worker was stopped'));
    this.pending.clear();
  }
}
