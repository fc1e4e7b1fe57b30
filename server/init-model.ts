import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { weightShapes } from '../src/core/model/index.js';

const LayerListSchema = z.object({ layers: z.array(z.object({ class_name: z.string() })) });

/** The parts of a TensorFlow.js layers-model model.json read here (Keras-converted files wrap the topology in model_config). */
const ModelJsonSchema = z.object({
  modelTopology: z.union([z.object({ model_config: z.object({ config: LayerListSchema }) }), z.object({ config: LayerListSchema })]),
  weightsManifest: z
    .array(
      z.object({
        paths: z.array(z.string().min(1)).min(1),
        weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.literal('float32').optional() })),
      }),
    )
    .min(1),
});

/**
 * The weights of the TensorFlow.js LayersModel in folder `dir` (model.json and its float32 weight
 * files, e.g. what `covey server export` writes), flat in `model`'s layout (core/model/weights.ts):
 * a federation's starting point for fine-tuning. Refuses a model whose layer types or weight shapes,
 * in order, differ from `model`'s, saying where.
 */
export async function readInitWeights(dir: string, model: tf.LayersModel): Promise<Float32Array> {
  const fail = (why: string) => new Error(`init model ${dir}: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  } catch (err) {
    throw fail(`cannot read model.json: ${(err as Error).message}`);
  }
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success)
    throw fail(`not a TensorFlow.js layers model with float32 weights (${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message})`);
  const { modelTopology, weightsManifest } = parsed.data;
  const layers = ('model_config' in modelTopology ? modelTopology.model_config : modelTopology).config.layers
    .map((l) => l.class_name)
    .filter((c) => c !== 'InputLayer');
  const expected = model.layers.map((l) => l.getClassName());
  if (layers.join() !== expected.join()) {
    throw fail(`its layers are ${layers.join(', ')}; model '${model.name}' has ${expected.join(', ')} (${model.layers.map((l) => l.name).join(', ')})`);
  }
  const shapes = weightsManifest.flatMap((group) => group.weights.map((w) => w.shape));
  const needed = weightShapes(model);
  if (JSON.stringify(shapes) !== JSON.stringify(needed)) {
    throw fail(`its weights have shapes ${JSON.stringify(shapes)}; model '${model.name}' needs ${JSON.stringify(needed)}`);
  }
  const files = weightsManifest.flatMap((group) => group.paths);
  const parts: Buffer[] = [];
  for (const path of files) {
    if (isAbsolute(path) || normalize(path).startsWith('..')) throw fail(`weight file path '${path}' leaves the folder`);
    parts.push(await readFile(join(dir, path)).catch((err: Error) => Promise.reject(fail(`cannot read ${path}: ${err.message}`))));
  }
  const bytes = Buffer.concat(parts);
  const length = needed.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== length * 4) throw fail(`its weight files hold ${bytes.byteLength} bytes, ${length} float32 weights need ${length * 4}`);
  const weights = new Float32Array(length);
  new Uint8Array(weights.buffer).set(bytes);
  const bad = weights.findIndex((w) => !Number.isFinite(w));
  if (bad >= 0) throw fail(`weight ${bad} is not finite`);
  return weights;
}
