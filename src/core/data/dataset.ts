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
