/**
 * Training backends in a browser or an Electron renderer (no Node APIs here): WebGPU, WebGL, wasm
 * and plain JS, and the first-run measurement that keeps the fastest one that trains correctly.
 *
 *   const choice = await pickTrainingBackend({ spec: MODEL_SPECS.cnn, cached: load() });
 *   save(choice);                       // e.g. localStorage: later runs only re-check it
 *   show(`${choice.label}: ${choice.samplesPerSecond} samples/s`);
 *
 * "Trains correctly": a few SGD steps of the model from its seeded initial weights on a fixed
 * batch give the same weight update as the plain-JS cpu backend, within `tolerance` (relative L2
 * error of the update). A GPU whose float textures are 16-bit, or a driver bug, fails that check.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Dataset } from '../../data/dataset.js';
import { buildModel } from '../../model/build.js';
import type { ModelSpec } from '../../model/spec.js';
import { getFlatWeights } from '../../model/weights.js';
import { installConvGradients } from '../conv-gradients.js';
import { trainOnThisThread } from '../sgd.js';
import { installWasmTrainingKernels } from '../wasm-kernels.js';

export type BrowserBackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** Fastest first: the order candidates are tried in when none is given. */
export const BROWSER_BACKENDS: readonly BrowserBackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendTrial {
  name: BrowserBackendName;
  /** Whether it initialised and passed the correctness check. */
  ok: boolean;
  label?: string;
  /** Relative L2 error of its weight update against the cpu backend's. */
  relativeError?: number;
  samplesPerSecond?: number;
  /** Why it was not usable. */
  error?: string;
}

export interface BackendChoice {
  name: BrowserBackendName;
  /** What to show, e.g. "webgl 2 (ANGLE (…, SwiftShader …))". */
  label: string;
  samplesPerSecond: number;
  /** The model and batch size it was measured with. */
  model: string;
  batchSize: number;
  trials: BackendTrial[];
  measuredAt: string;
}

export interface PickOptions {
  /** The model to measure with (the one that will train). */
  spec: ModelSpec;
  candidates?: readonly BrowserBackendName[];
  /** Batch size of the speed measurement (default 32). */
  batchSize?: number;
  /** Timed steps per candidate (default 3, after one warm-up step). */
  steps?: number;
  /** Largest accepted relative error of the check's weight update (default 1e-3). */
  tolerance?: number;
  /** Where tfjs-backend-wasm's .wasm files are served (a URL prefix ending in '/'). */
  wasmPaths?: string;
  /** A previous choice: if its backend still initialises and passes the check, it is kept without re-measuring. */
  cached?: BackendChoice | null;
  log?: (line: string) => void;
}

let wasmPathsSet = false;

/** Switches tfjs to `name` (loading what it needs); throws if it cannot run here. */
export async function activateBrowserBackend(name: BrowserBackendName, wasmPaths?: string): Promise<string> {
  if (name === 'wasm' && wasmPaths && !wasmPathsSet) {
    setWasmPaths(wasmPaths);
    wasmPathsSet = true;
  }
  let ready: boolean;
  try {
    ready = await tf.setBackend(name);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
  }
  if (!ready) throw new Error(`${name}: tfjs could not initialise it here`);
  await tf.ready();
  const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)).dataSync());
  if (sum[0] !== 2 || sum[1] !== 3) throw new Error(`${name}: computed 1+[1,2] = [${sum.join(',')}]`);
  installConvGradients(); // wasm lacks Conv2DBackpropFilter; GPU backends keep their own (see conv-gradients.ts)
  if (name === 'wasm') installWasmTrainingKernels();
  return labelOf(name);
}

function labelOf(name: BrowserBackendName): string {
  try {
    if (name === 'webgl') {
      const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
      const info = gl?.getExtension('WEBGL_debug_renderer_info');
      const renderer = gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : null;
      return `webgl ${tf.env().getNumber('WEBGL_VERSION')}${renderer ? ` (${renderer})` : ''}`;
    }
    if (name === 'webgpu') {
      const adapter = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
      const detail = [adapter?.vendor, adapter?.architecture].filter(Boolean).join(' ');
      return `webgpu${detail ? ` (${detail})` : ''}`;
    }
    if (name === 'wasm') return `wasm (WebAssembly${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ' SIMD' : ''})`;
  } catch {
    // a label is cosmetic
  }
  return name === 'cpu' ? 'cpu (plain JavaScript)' : name;
}

/** A fixed pseudo-random dataset of `count` rows for `spec` (mulberry32; features in [0, 1)). */
export function checkDataset(spec: ModelSpec, count: number, seed = 12345): Dataset {
  const size = spec.inputShape.reduce((a, b) => a * b, 1);
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const features = new Float32Array(count * size);
  for (let i = 0; i < features.length; i++) features[i] = next();
  const labels = Uint8Array.from({ length: count }, (_, i) => i % spec.numClasses);
  return { features, labels, count, inputShape: [...spec.inputShape], numClasses: spec.numClasses };
}

/**
 * Trains `spec` (seeded initial weights) on `data` with the active backend, one epoch of
 * `batchSize` batches in the seeded order, and returns the weight update (trained − initial) and
 * the samples/s. The same call on two backends must give the same update up to float rounding.
 */
export async function trainingUpdate(
  spec: ModelSpec,
  data: Dataset,
  opts: { batchSize: number; learningRate?: number; seed?: number },
): Promise<{ update: Float32Array; samplesPerSecond: number }> {
  const model = buildModel(spec, { seed: opts.seed ?? 1 });
  try {
    const initial = getFlatWeights(model);
    const result = await trainOnThisThread(
      model,
      data,
      { epochs: 1, batchSize: opts.batchSize, learningRate: opts.learningRate ?? 0.05, seed: opts.seed ?? 1 },
      tf.getBackend(),
    );
    const update = getFlatWeights(model);
    for (let i = 0; i < update.length; i++) update[i] -= initial[i];
    return { update, samplesPerSecond: result.examplesPerSecond };
  } finally {
    model.dispose();
  }
}

/** ‖a − b‖ / ‖a‖. */
export function relativeError(reference: Float32Array, other: Float32Array): number {
  if (reference.length !== other.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = reference[i] - other[i];
    if (!Number.isFinite(other[i])) return Number.POSITIVE_INFINITY;
    diff += d * d;
    norm += reference[i] * reference[i];
  }
  return Math.sqrt(diff / norm);
}

/**
 * Measures the candidate backends and activates the fastest that trains correctly (see the
 * module comment). With `cached`, re-checks that one only. Falls back to cpu, which is the
 * reference and always works.
 */
export async function pickTrainingBackend(opts: PickOptions): Promise<BackendChoice> {
  const log = opts.log ?? (() => undefined);
  const tolerance = opts.tolerance ?? 1e-3;
  const batchSize = opts.batchSize ?? 32;
  const steps = opts.steps ?? 3;
  const check = checkDataset(opts.spec, 16);
  const checkOpts = { batchSize: 8 };

  await activateBrowserBackend('cpu');
  const reference = (await trainingUpdate(opts.spec, check, checkOpts)).update;

  const trial = async (name: BrowserBackendName, measure: boolean): Promise<BackendTrial> => {
    try {
      const label = await activateBrowserBackend(name, opts.wasmPaths);
      const relErr = relativeError(reference, (await trainingUpdate(opts.spec, check, checkOpts)).update);
      if (!(relErr <= tolerance))
        return {
          name,
          ok: false,
          label,
          relativeError: relErr,
          error: `its weight update differs from the cpu backend's by ${relErr.toExponential(2)} (over ${tolerance})`,
        };
      if (!measure) return { name, ok: true, label, relativeError: relErr };
      await trainingUpdate(opts.spec, checkDataset(opts.spec, batchSize, 776), { batchSize }); // warm-up: shader compiles, kernel set-up
      const timing = checkDataset(opts.spec, batchSize * steps, 777);
      const { samplesPerSecond } = await trainingUpdate(opts.spec, timing, { batchSize });
      return { name, ok: true, label, relativeError: relErr, samplesPerSecond };
    } catch (error) {
      return { name, ok: false, error: (error as Error).message };
    }
  };

  if (opts.cached && opts.cached.model === opts.spec.name) {
    const again = await trial(opts.cached.name, false);
    log(`cached ${opts.cached.name}: ${again.ok ? 'still trains correctly' : again.error}`);
    if (again.ok) {
      await activateBrowserBackend(opts.cached.name, opts.wasmPaths);
      return { ...opts.cached, label: again.label ?? opts.cached.label };
    }
  }

  const trials: BackendTrial[] = [];
  const candidates = opts.candidates ?? BROWSER_BACKENDS;
  for (const name of candidates) {
    // cpu is the last resort: measure it only when nothing else trained correctly.
    if (name === 'cpu' && trials.some((t) => t.ok)) {
      trials.push({ name, ok: true, label: labelOf('cpu'), relativeError: 0, error: 'not measured: a faster backend passed' });
      continue;
    }
    const t = await trial(name, true);
    trials.push(t);
    log(`${name}: ${t.ok ? `${t.samplesPerSecond?.toFixed(1)} samples/s, error ${t.relativeError?.toExponential(2)}` : `unusable (${t.error})`}`);
  }
  const usable = trials.filter((t) => t.ok && t.samplesPerSecond !== undefined);
  const best = usable.sort((a, b) => b.samplesPerSecond! - a.samplesPerSecond!)[0] ?? { name: 'cpu' as const, label: labelOf('cpu'), samplesPerSecond: 0 };
  const label = await activateBrowserBackend(best.name, opts.wasmPaths);
  return {
    name: best.name,
    label,
    samplesPerSecond: Math.round((best.samplesPerSecond ?? 0) * 10) / 10,
    model: opts.spec.name,
    batchSize,
    trials,
    measuredAt: new Date().toISOString(),
  };
}
