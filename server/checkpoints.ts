import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { layerOrderWeights } from '../src/core/model/index.js';

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

/** tfjs model.json for `model` whose weights are `weights` (flat, in layer order: core/model/weights.ts) in weights.bin. */
export function modelJson(model: tf.LayersModel, meta: Record<string, unknown>): string {
  return JSON.stringify({
    format: 'layers-model',
    generatedBy: 'covey',
    convertedBy: null,
    modelTopology: model.toJSON(null, false),
    weightsManifest: [{ paths: ['weights.bin'], weights: layerOrderWeights(model).map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) }],
    covey: meta,
  });
}

/**
 * SHA-256 (FIPS 180-4) of a checkpoint: weights.bin's length as 8 bytes (big-endian), weights.bin,
 * then model.json, so that no two different pairs of files share one digest. Hex.
 */
export function checkpointSha256(weightsBin: Uint8Array, modelJsonBytes: Uint8Array | string): string {
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(weightsBin.byteLength));
  return createHash('sha256').update(length).update(weightsBin).update(modelJsonBytes).digest('hex');
}

/** The digest of the checkpoint in `dir` as it is on disk now. */
export async function readCheckpointSha256(dir: string): Promise<string> {
  const [weightsBin, json] = await Promise.all([readFile(join(dir, 'weights.bin')), readFile(join(dir, 'model.json'))]);
  return checkpointSha256(weightsBin, json);
}

/** Writes the checkpoint whole (see above) and returns its SHA-256, to be stored with the round. */
export async function writeCheckpoint(dir: string, model: tf.LayersModel, weights: Float32Array, meta: Record<string, unknown>): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const weightsBin = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  const json = modelJson(model, meta);
  await writeSynced(join(tmp, 'weights.bin'), weightsBin);
  await writeSynced(join(tmp, 'model.json'), json);
  // A folder left by an interrupted attempt at the same round is replaced whole.
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  const parent = await open(join(dir, '..'), 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
  return checkpointSha256(weightsBin, json);
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
