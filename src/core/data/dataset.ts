/** A labelled dataset held in memory: the one shape every loader returns and every trainer takes. */
export interface Dataset {
  /** Feature values, row-major, `count * product(inputShape)` long, scaled to [0, 1] for images. */
  features: Float32Array;
  /** Class index of each example. */
  labels: Uint8Array;
  count: number;
  /** Shape of one example, e.g. [28, 28, 1] for MNIST, [d] for a CSV row. */
  inputShape: number[];
  numClasses: number;
}

export function featureSize(dataset: Pick<Dataset, 'inputShape'>): number {
  return dataset.inputShape.reduce((a, b) => a * b, 1);
}

/** A new dataset holding copies of the given examples, in the given order. */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const size = featureSize(dataset);
  const features = new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (!Number.isInteger(index) || index < 0 || index >= dataset.count) {
      throw new RangeError(`subset: index ${index} is outside the dataset's 0..${dataset.count - 1}`);
    }
    features.set(dataset.features.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = dataset.labels[index];
  }
  return {
    features,
    labels,
    count: indices.length,
    inputShape: [...dataset.inputShape],
    numClasses: dataset.numClasses,
  };
}
