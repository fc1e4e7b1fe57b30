/**
 * Fine-tuning: which part of the flat weight vector (weights.ts: layer by layer, kernel then bias)
 * the named trainable layers hold. The update, its clipping and noise, aggregation and the server
 * optimizer work on that part only; the rest is frozen and never sent. Pure: from the spec alone.
 */
import { layerWeights } from './parameters.js';
import type { ModelSpec } from './spec.js';

type Spec = Pick<ModelSpec, 'name' | 'inputShape' | 'layers'>;

/** The trainable part of a model's flat weights: [start, end) ranges in layer order, and their total length. */
export interface TrainableSlice {
  ranges: readonly (readonly [number, number])[];
  length: number;
  /** The whole model's weight count. */
  total: number;
}

/** Why `trainable` does not name a usable set of layers of `spec` (listing its layer names), or null. */
export function trainableProblem(spec: Spec, trainable: readonly string[]): string | null {
  const layers = layerWeights(spec);
  const list = layers.map((l) => (l.weights > 0 ? l.name : `${l.name} (no weights)`)).join(', ');
  for (const name of trainable) {
    const layer = layers.find((l) => l.name === name);
    if (!layer) return `model '${spec.name}' has no layer '${name}'; its layers are: ${list}`;
    if (layer.weights === 0) return `layer '${name}' of model '${spec.name}' has no weights to train; its layers are: ${list}`;
  }
  if (new Set(trainable).size !== trainable.length) return `trainable layers are named more than once: ${trainable.join(', ')}`;
  return null;
}

/** The slice the named layers hold (every layer when `trainable` is undefined); throws on names `trainableProblem` refuses. */
export function trainableSlice(spec: Spec, trainable?: readonly string[]): TrainableSlice {
  const problem = trainable && trainableProblem(spec, trainable);
  if (problem) throw new Error(problem);
  const ranges: [number, number][] = [];
  let offset = 0;
  for (const layer of layerWeights(spec)) {
    const end = offset + layer.weights;
    if (layer.weights > 0 && (!trainable || trainable.includes(layer.name))) {
      const last = ranges.at(-1);
      if (last && last[1] === offset) last[1] = end;
      else ranges.push([offset, end]);
    }
    offset = end;
  }
  return { ranges, length: ranges.reduce((n, [a, b]) => n + b - a, 0), total: offset };
}

/** The trainable values of a whole-model vector, as a new array. */
export function selectTrainable(full: Float32Array, slice: TrainableSlice): Float32Array {
  checkLength('model', full, slice.total);
  const out = new Float32Array(slice.length);
  let at = 0;
  for (const [a, b] of slice.ranges) {
    out.set(full.subarray(a, b), at);
    at += b - a;
  }
  return out;
}

/** A new whole-model vector: `full`'s frozen values, `trainable`'s in the slice. */
export function mergeTrainable(full: Float32Array, trainable: Float32Array, slice: TrainableSlice): Float32Array {
  checkLength('model', full, slice.total);
  checkLength('trainable', trainable, slice.length);
  const out = full.slice();
  let at = 0;
  for (const [a, b] of slice.ranges) {
    out.set(trainable.subarray(at, at + b - a), a);
    at += b - a;
  }
  return out;
}

function checkLength(what: string, values: Float32Array, expected: number): void {
  if (values.length !== expected) throw new Error(`${what} weight vector has ${values.length} values, expected ${expected}`);
}
