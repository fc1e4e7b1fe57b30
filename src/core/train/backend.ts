import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { installConvGradients } from './conv-gradients.js';
import { installWasmTrainingKernels } from './wasm-kernels.js';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** The tfjs backend name (`tf.getBackend()`). */
  tfBackend: string;
  /** What to print, e.g. "wasm (WebAssembly SIMD)". */
  label: string;
  /** The backends before it in the automatic order that could not run here, and why (none when one was forced). */
  skipped: { name: BackendName; reason: string }[];
}

/** The native packages, said as what they need (tfjs-node 4.x loads libtensorflow 2.9: CUDA 11.2 + cuDNN 8.1). */
const NATIVE_NEEDS: Partial<Record<BackendName, { pkg: string; needs: string }>> = {
  'tensorflow-gpu': { pkg: '@tensorflow/tfjs-node-gpu', needs: 'Linux x64, an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1; its install downloads libtensorflow' },
  tensorflow: { pkg: '@tensorflow/tfjs-node', needs: 'Linux, macOS or Windows on x64; its install downloads libtensorflow' },
};

/** Why `name` could not be activated, in one line: a missing native package says what it needs. */
export function unavailableReason(name: BackendName, error: unknown): string {
  if (error instanceof BackendUnavailable) return error.reason;
  const message = error instanceof Error ? error.message : String(error);
  const native = NATIVE_NEEDS[name];
  if (native && /Cannot find (package|module)/.test(message) && message.includes(native.pkg)) {
    return `${native.pkg} is not installed (${native.needs})`;
  }
  const firstLine = message.split('\n')[0];
  return firstLine.length > 300 ? `${firstLine.slice(0, 297)}...` : firstLine;
}

/** A backend that was asked for by name and cannot run here; `reason` is one line (unavailableReason). */
export class BackendUnavailable extends Error {
  constructor(
    readonly backend: BackendName,
    readonly reason: string,
    options: ErrorOptions,
  ) {
    super(`the '${backend}' backend was asked for but cannot run: ${reason}`, options);
  }
}

/** Tried in this order when nothing is forced: the first that loads and computes wins. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Accepted values of COVEY_BACKEND / the preference argument. */
const PREFERENCES: Readonly<Record<string, BackendName>> = {
  cuda: 'tensorflow-gpu',
  'tensorflow-gpu': 'tensorflow-gpu',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

async function loadNative(packageName: string): Promise<void> {
  // A variable specifier: these optional packages have no types and are often absent.
  const specifier: string = packageName;
  await import(specifier);
}

/** Makes the backend's code available to tfjs: imports a native binding or locates the wasm binaries. */
async function load(name: BackendName): Promise<void> {
  if (name === 'tensorflow-gpu') await loadNative('@tensorflow/tfjs-node-gpu');
  if (name === 'tensorflow') await loadNative('@tensorflow/tfjs-node');
  if (name === 'wasm') {
    // Node reads the .wasm files from disk: point tfjs at the package's dist folder.
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    setWasmPaths(path.dirname(entry) + path.sep);
  }
}

async function labelFor(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
      return 'tensorflow-gpu (libtensorflow, CUDA build)';
    case 'tensorflow':
      return 'tensorflow (libtensorflow, native CPU)';
    case 'wasm': {
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
      return `wasm (WebAssembly${simd ? ' SIMD' : ''}${threads ? ', multithreaded' : ''})`;
    }
    case 'cpu':
      return 'cpu (plain JavaScript)';
  }
}

/** Loads and switches to `name`, then checks that it computes; throws if anything fails. */
async function activate(name: BackendName, skipped: BackendInfo['skipped'] = []): Promise<BackendInfo> {
  await load(name);
  const tfBackend = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  if (!(await tf.setBackend(tfBackend))) throw new Error(`tfjs could not initialise its '${tfBackend}' backend`);
  const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)).dataSync());
  if (sum[0] !== 2 || sum[1] !== 3) throw new Error(`the '${tfBackend}' backend computed 1+[1,2] = [${sum.join(',')}]`);
  // Native TensorFlow has fast conv gradient kernels; wasm lacks one and cpu's are slow.
  if (name === 'wasm' || name === 'cpu') installConvGradients();
  // wasm runs transposed matrix products (every dense layer's backward pass) and the max-pool gradient in slow loops.
  if (name === 'wasm') installWasmTrainingKernels();
  return { name, tfBackend, label: await labelFor(name), skipped };
}

function parsePreference(preference: string): BackendName {
  const name = PREFERENCES[preference.trim().toLowerCase()];
  if (name === undefined) {
    throw new Error(`unknown backend '${preference}': use one of auto, cuda, tensorflow, wasm, cpu`);
  }
  return name;
}

let current: BackendInfo | null = null;
/** Whether `current` was forced by a preference rather than picked by the automatic order. */
let currentForced = false;
/** Selections run one at a time. */
let queue: Promise<unknown> = Promise.resolve();

async function select(preference: string | undefined): Promise<BackendInfo> {
  // 'auto' asks for the automatic order even after a backend was forced; no preference keeps whatever runs.
  const auto = preference?.trim().toLowerCase() === 'auto';
  const forced = preference && !auto ? parsePreference(preference) : null;
  if (current && (forced === null ? !(auto && currentForced) : forced === current.name)) {
    // tfjs may have been switched another way since (tf.setBackend): what this returns is what runs.
    if (tf.getBackend() !== current.tfBackend && !(await tf.setBackend(current.tfBackend)))
      throw new Error(`tfjs could not return to its '${current.tfBackend}' backend`);
    return current;
  }
  if (forced) {
    try {
      current = await activate(forced);
      currentForced = true;
      return current;
    } catch (error) {
      if (current) await tf.setBackend(current.tfBackend); // stay on the backend that works
      throw new BackendUnavailable(forced, unavailableReason(forced, error), { cause: error });
    }
  }
  const skipped: BackendInfo['skipped'] = [];
  for (const name of AUTO_ORDER) {
    try {
      current = await activate(name, [...skipped]);
      currentForced = false;
      return current;
    } catch (error) {
      skipped.push({ name, reason: unavailableReason(name, error) });
    }
  }
  throw new Error(`no tfjs backend could run here (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`);
}

/** The label of the backend tfjs runs now: the selected one's, or tfjs's own name if it was set another way. */
export function activeBackendLabel(): string {
  const name = tf.getBackend();
  if (current && current.tfBackend === name) return current.label;
  return name ?? 'none';
}

/**
 * Picks and activates the fastest tfjs backend that works here: tfjs-node-gpu (CUDA), tfjs-node,
 * wasm, then cpu. `preference`, or else the COVEY_BACKEND environment variable (cuda, tensorflow,
 * wasm, cpu), forces one and fails clearly if it cannot run; 'auto' returns to the automatic
 * order after one was forced. Idempotent: later calls without a preference return the active
 * backend. Call it before any other tfjs work.
 */
export function selectBackend(preference?: string): Promise<BackendInfo> {
  const wanted = preference ?? process.env.COVEY_BACKEND;
  const result = queue.then(() => select(wanted || undefined));
  queue = result.catch(() => undefined);
  return result;
}
