/** How many weights a model spec has, from its layer list alone (no tfjs): the d of the noise-scale estimate. */
import type { ModelSpec } from './spec.js';

/** A layer of a spec: its name (build.ts gives the tfjs layer this name) and how many weights it has (kernel and bias). */
export interface LayerWeights {
  name: string;
  weights: number;
}

/**
 * Each layer's name and weight count, in layer order: names are the layer type and its 1-based
 * index among layers of that type (`conv2d_1`, `maxPool2d_1`, `dense_2`); counts follow the shapes
 * tfjs-layers gives them (stride 1, valid/same padding; pooling floors).
 */
export function layerWeights(spec: Pick<ModelSpec, 'inputShape' | 'layers'>): LayerWeights[] {
  let shape = [...spec.inputShape];
  const seen = new Map<string, number>();
  return spec.layers.map((layer) => {
    const index = (seen.get(layer.type) ?? 0) + 1;
    seen.set(layer.type, index);
    let weights = 0;
    switch (layer.type) {
      case 'conv2d': {
        const [h, w, channels] = shape;
        const shrink = layer.padding === 'valid' ? layer.kernelSize - 1 : 0;
        weights = (layer.kernelSize * layer.kernelSize * channels + 1) * layer.filters;
        shape = [h - shrink, w - shrink, layer.filters];
        break;
      }
      case 'maxPool2d':
        shape = [Math.floor(shape[0] / layer.poolSize), Math.floor(shape[1] / layer.poolSize), shape[2]];
        break;
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'dense':
        weights = (shape[shape.length - 1] + 1) * layer.units;
        shape = [...shape.slice(0, -1), layer.units];
        break;
    }
    return { name: `${layer.type}_${index}`, weights };
  });
}

/** Weights of the whole model, or of the named trainable layers only (what an update carries). */
export function parameterCount(spec: Pick<ModelSpec, 'inputShape' | 'layers'>, trainable?: readonly string[]): number {
  return layerWeights(spec)
    .filter((l) => !trainable || trainable.includes(l.name))
    .reduce((n, l) => n + l.weights, 0);
}
