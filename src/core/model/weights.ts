import * as tf from '@tensorflow/tfjs';

/**
 * The model's weights layer by layer, each layer's in its own order (kernel, bias). Not
 * `model.weights`, which lists trainable weights first and so changes when layers are frozen
 * (trainable.ts); for a model with every layer trainable the two orders are the same.
 */
export function layerOrderWeights(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((layer) => layer.weights);
}

/** The flat layout: every weight of the model in `layerOrderWeights` order, each row-major, concatenated. */
export function weightShapes(model: tf.LayersModel): number[][] {
  return layerOrderWeights(model).map((w) =>
    w.shape.map((d) => {
      if (d === null) throw new Error(`weight '${w.name}' of model '${model.name}' has an undefined dimension`);
      return d;
    }),
  );
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** All weights of `model` as one new Float32Array (see `weightShapes` for the layout). */
export function getFlatWeights(model: tf.LayersModel): Float32Array {
  const tensors = layerOrderWeights(model).map((w) => w.read()); // the variables themselves: never dispose
  const flat = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let offset = 0;
  for (const t of tensors) {
    flat.set(t.dataSync(), offset);
    offset += t.size;
  }
  return flat;
}

/**
 * Replaces all weights of `model` with `flat` (the `getFlatWeights` layout). Checks everything
 * before changing anything: throws on a length mismatch or a non-finite value.
 * The model keeps its own copy: later changes to `flat` do not reach it.
 */
export function setFlatWeights(model: tf.LayersModel, flat: Float32Array): void {
  const shapes = weightShapes(model);
  const expected = shapes.reduce((n, s) => n + sizeOf(s), 0);
  if (flat.length !== expected) {
    throw new Error(`weight vector has ${flat.length} values, model '${model.name}' needs ${expected}`);
  }
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i])) {
      throw new Error(`weight vector has a non-finite value (${flat[i]}) at index ${i}`);
    }
  }
  tf.tidy(() => {
    let offset = 0;
    layerOrderWeights(model).forEach((weight, i) => {
      const size = sizeOf(shapes[i]);
      // slice, not subarray: the cpu backend would keep a view aliasing the caller's buffer.
      weight.write(tf.tensor(flat.slice(offset, offset + size), shapes[i], 'float32'));
      offset += size;
    });
  });
}
