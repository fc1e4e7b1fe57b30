import type * as tf from '@tensorflow/tfjs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Global-model checkpoints in TensorFlow.js's layers-model format (model.json + weights.bin), one
 * folder per completed round, written to a temporary folder and renamed into place so that a
 * crash leaves either no checkpoint or a whole one.
 */
export function checkpointDir(stateDir: string, round: number): string {
  return join(stateDir, 'checkpoints', `round-${round}`);
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** tfjs model.json for `model` whose weights are `weights` (flat, in model.weights order) in weights.bin. */
export function modelJson(model: tf.LayersModel, meta: Record<string, unknown>): string {
  return JSON.stringify({
    format: 'layers-model',
    generatedBy: 'covey',
    convertedBy: null,
    modelTopology: model.toJSON(null, false),
    weightsManifest: [{ paths: ['weights.bin'], weights: model.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) }],
    covey: meta,
  });
}

export async function writeCheckpoint(dir: string, model: tf.LayersModel, weights: Float32Array, meta: Record<string, unknown>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeSynced(join(tmp, 'weights.bin'), new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
  await writeSynced(join(tmp, 'model.json'), modelJson(model, meta));
  // A folder left by an interrupted attempt at the same round is replaced whole.
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  const parent = await open(join(dir, '..'), 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
}

export async function readCheckpointWeights(dir: string, length: number): Promise<Float32Array> {
  const bytes = await readFile(join(dir, 'weights.bin'));
  if (bytes.byteLength !== length * 4) {
    throw new Error(`checkpoint ${dir} holds ${bytes.byteLength / 4} weights, the model has ${length}`);
  }
  const weights = new Float32Array(length);
  new Uint8Array(weights.buffer).set(bytes);
  for (let i = 0; i < length; i++) if (!Number.isFinite(weights[i])) throw new Error(`checkpoint ${dir} holds a non-finite weight`);
  return weights;
}
