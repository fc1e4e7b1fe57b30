/** How many weights a model spec has, from its layer list alone (no tfjs): the d of the noise-scale estimate. */
import type { ModelSpec } from './spec.js';

/** Weights of each layer (kernels and biases), following the shapes tfjs-layers gives them (stride 1, valid/same padding; pooling floors). */
export function parameterCount(spec: Pick<ModelSpec, 'inputShape' | 'layers'>): number {
  let shape = [...spec.inputShape];
  let total = 0;
  for (const layer of spec.layers) {
    switch (layer.type) {
      case 'conv2d': {
        const [h, w, channels] = shape;
        const shrink = layer.padding === 'valid' ? layer.kernelSize - 1 : 0;
        total += (layer.kernelSize * layer.kernelSize * channels + 1) * layer.filters;
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
        total += (shape[shape.length - 1] + 1) * layer.units;
        shape = [...shape.slice(0, -1), layer.units];
        break;
    }
  }
  return total;
}
