/**
 * What each training backend does on this machine (`covey doctor`): whether it loads, and if not
 * why, in one line; if it does, its training speed on a model, measured by trainLocal itself
 * over a short run on random inputs after a warm-up.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { buildModel, type ModelSpec } from '../model/index.js';
import { AUTO_ORDER, selectBackend, unavailableReason, type BackendName } from './backend.js';
import { forwardMacsPerExample, trainLocal, workersWorthSplitting } from './train.js';

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** What trained, e.g. "wasm (WebAssembly SIMD), 2 worker threads" (available only). */
  label?: string;
  /** Why it cannot be used here, in one line (unavailable only). */
  reason?: string;
  /** Training samples/s on the probed model at `batchSize` (available only). */
  samplesPerSecond?: number;
  /** Examples the timed run trained on. */
  examples?: number;
}

/** Forward multiply-adds a timed run spends (the CNN: about 490 examples); the plain-JS cpu backend gets a tenth. */
const PROBE_MACS = 6e9;
const CPU_PROBE_MACS = 6e8;

/** `count` examples of uniform random inputs for `spec`, labels cycling through its classes: for timing, not learning. */
export function randomInputs(spec: Pick<ModelSpec, 'inputShape' | 'numClasses'>, count: number): Dataset {
  const size = spec.inputShape.reduce((a, b) => a * b, 1);
  return {
    features: Float32Array.from({ length: count * size }, () => Math.random()),
    labels: Uint8Array.from({ length: count }, (_, i) => i % spec.numClasses),
    count,
    inputShape: [...spec.inputShape],
    numClasses: spec.numClasses,
  };
}

/**
 * Training speed on the active backend: on wasm one thread and, where the batch splits, the
 * workers, each after its own warm-up, keeping the faster (as trainLocal's automatic mode does).
 */
async function timedRun(
  model: tf.LayersModel,
  spec: ModelSpec,
  name: BackendName,
  batchSize: number,
): Promise<Required<Pick<BackendProbe, 'label' | 'samplesPerSecond' | 'examples'>>> {
  const budget = name === 'cpu' ? CPU_PROBE_MACS : PROBE_MACS;
  const examples = Math.min(20_000, Math.max(batchSize, Math.round(budget / forwardMacsPerExample(model))));
  const modes = name === 'wasm' ? [...new Set([1, workersWorthSplitting(model, batchSize)])] : [undefined];
  let best: { label: string; samplesPerSecond: number; examples: number } | null = null;
  for (const threads of modes) {
    const opts = { epochs: 1, batchSize, learningRate: 0.01, seed: 1, ...(threads !== undefined && { threads }) };
    await trainLocal(model, randomInputs(spec, batchSize * (threads ?? 1)), opts); // warm-up: kernels, wasm compilation, workers
    const run = await trainLocal(model, randomInputs(spec, examples), opts);
    if (!best || run.examplesPerSecond > best.samplesPerSecond) {
      best = { label: run.backend, samplesPerSecond: Math.round(run.examplesPerSecond * 10) / 10, examples };
    }
  }
  return best!;
}

/** Every backend in the automatic order, each activated in turn and, when it loads, timed on `spec`. */
export async function probeBackends(spec: ModelSpec, batchSize: number): Promise<BackendProbe[]> {
  const probes: BackendProbe[] = [];
  for (const name of AUTO_ORDER) {
    try {
      await selectBackend(name);
    } catch (error) {
      probes.push({ name, available: false, reason: unavailableReason(name, error) });
      continue;
    }
    const model = buildModel(spec, { seed: 1 });
    try {
      probes.push({ name, available: true, ...(await timedRun(model, spec, name, batchSize)) });
    } catch (error) {
      probes.push({ name, available: false, reason: `loads, but training failed: ${unavailableReason(name, error)}` });
    } finally {
      model.dispose();
    }
  }
  return probes;
}
