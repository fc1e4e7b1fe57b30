/**
 * Fits a loaded dataset to a model's input shape. A CSV row is a flat vector ([d]); when d equals
 * the size of the model's input (784 for 28×28×1), the rows are the model's examples in row-major
 * order and only the shape changes. Image models take grey values in [0, 1] (see Dataset): a
 * table of 8-bit pixel values (integers 0..255, some above 1) fitted to an image shape is scaled
 * by 1/255, as the IDX and embedded loaders scale theirs.
 */
import { type Dataset, featureSize } from './dataset.js';

/** What fitting changed: the dataset as the model takes it, or null when its examples are not that size. */
export interface FittedData {
  dataset: Dataset;
  /** The flat rows were given the model's shape. */
  reshaped: boolean;
  /** 8-bit pixel values were scaled to [0, 1]. */
  rescaled: boolean;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Whether every value is an integer in 0..255 and at least one is above 1 (8-bit pixels, not [0, 1] greys). */
function isEightBit(values: Float32Array): boolean {
  let above = false;
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v > 255) return false;
    if (v > 1) above = true;
  }
  return above;
}

export function fitToInputShape(dataset: Dataset, inputShape: readonly number[]): FittedData | null {
  if (sameShape(dataset.inputShape, inputShape)) return { dataset, reshaped: false, rescaled: false };
  if (dataset.inputShape.length !== 1 || featureSize(dataset) !== featureSize({ inputShape: [...inputShape] })) return null;
  const image = inputShape.length >= 2;
  const rescaled = image && isEightBit(dataset.features);
  const features = rescaled ? dataset.features.map((v) => v / 255) : dataset.features;
  return { dataset: { ...dataset, features, inputShape: [...inputShape] }, reshaped: true, rescaled };
}
