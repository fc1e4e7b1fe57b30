import * as tf from '@tensorflow/tfjs';
import { layerWeights } from './parameters.js';
import type { LayerSpec, ModelSpec } from './spec.js';

/** Layers per model the seed scheme keeps apart; specs allow at most 64. */
const SEED_STRIDE = 1024;

/**
 * Builds `spec` as a tfjs model with seeded initial weights: the same spec and seed give
 * bit-identical weights on every backend (tfjs draws initializer values in JavaScript).
 * Kernels use Glorot-uniform, biases start at zero. Layers are named as `layerWeights` names them.
 */
export function buildModel(spec: ModelSpec, { seed }: { seed: number }): tf.LayersModel {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`model seed must be an integer in [0, 2^32), got ${seed}`);
  }
  const model = tf.sequential({ name: spec.name });
  const names = layerWeights(spec).map((l) => l.name);
  spec.layers.forEach((layer, index) => {
    // alea hashes the seed's decimal text, so distinct numbers give independent streams.
    const initSeed = seed * SEED_STRIDE + index + 1;
    model.add(makeLayer(layer, initSeed, { name: names[index], inputShape: index === 0 ? spec.inputShape : undefined }));
  });
  return model;
}

/** Fine-tuning: only the named layers train (all when `trainable` is undefined); the others keep their weights. */
export function setTrainableLayers(model: tf.LayersModel, trainable: readonly string[] | undefined): void {
  for (const layer of model.layers) layer.trainable = !trainable || trainable.includes(layer.name);
}

function makeLayer(layer: LayerSpec, seed: number, { name, inputShape }: { name: string; inputShape: number[] | undefined }): tf.layers.Layer {
  const kernelInitializer = tf.initializers.glorotUniform({ seed });
  switch (layer.type) {
    case 'conv2d':
      return tf.layers.conv2d({
        name,
        inputShape,
        filters: layer.filters,
        kernelSize: layer.kernelSize,
        activation: layer.activation,
        padding: layer.padding,
        kernelInitializer,
        biasInitializer: 'zeros',
      });
    case 'maxPool2d':
      return tf.layers.maxPooling2d({ name, inputShape, poolSize: layer.poolSize });
    case 'flatten':
      return tf.layers.flatten({ name, inputShape });
    case 'dense':
      return tf.layers.dense({
        name,
        inputShape,
        units: layer.units,
        activation: layer.activation,
        kernelInitializer,
        biasInitializer: 'zeros',
      });
  }
}
