/**
 * The renderer-side training worker (a module Web Worker): picks the backend on the first
 * 'select' (WebGPU, WebGL, wasm, cpu: see backends.ts), then trains on it for each 'train'.
 * Start it from the renderer with the client in ./client.ts:
 *
 *   const trainer = new BrowserTrainer(new Worker(new URL('../core/train/browser/training-worker.ts', import.meta.url), { type: 'module' }));
 *
 * It keeps tfjs off the UI thread; WebGL and WebGPU run in workers through OffscreenCanvas.
 */
import { buildModel } from '../../model/build.js';
import { getFlatWeights, setFlatWeights } from '../../model/weights.js';
import { checkCompatible, checkTrainOptions, trainOnThisThread, type TrainProgress } from '../sgd.js';
import { pickTrainingBackend, type BackendChoice } from './backends.js';
import type { TrainerRequest, TrainerResponse } from './protocol.js';

interface WorkerScope {
  postMessage(message: TrainerResponse, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<TrainerRequest>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
let choice: BackendChoice | null = null;
/** Requests run one at a time, in order. */
let queue: Promise<void> = Promise.resolve();

async function handle(request: TrainerRequest): Promise<void> {
  if (request.type === 'select') {
    choice = await pickTrainingBackend({
      spec: request.spec,
      candidates: request.candidates,
      batchSize: request.batchSize,
      cached: request.cached ?? null,
      wasmPaths: request.wasmPaths,
      log: (line) => scope.postMessage({ type: 'log', id: request.id, line }),
    });
    scope.postMessage({ type: 'backend', id: request.id, choice });
    return;
  }
  if (choice === null) throw new Error("no backend selected yet: send 'select' first");
  const model = buildModel(request.spec, { seed: 0 });
  try {
    setFlatWeights(model, request.weights);
    const data = request.data;
    checkCompatible(model, data);
    checkTrainOptions(request.opts);
    const onProgress = (progress: TrainProgress) => scope.postMessage({ type: 'progress', id: request.id, progress });
    const result = await trainOnThisThread(model, data, { ...request.opts, onProgress }, choice.label);
    const weights = getFlatWeights(model);
    scope.postMessage({ type: 'trained', id: request.id, weights, result }, [weights.buffer]);
  } finally {
    model.dispose();
  }
}

scope.addEventListener('message', (event) => {
  const request = event.data;
  queue = queue.then(() =>
    handle(request).catch((error: unknown) => scope.postMessage({ type: 'error', id: request.id, message: (error as Error)?.message ?? String(error) })),
  );
});
