import type { Dataset } from '../data/dataset.js';

/** How a client weighs its examples' losses by class: 'balanced' from its own label counts. */
export const CLASS_WEIGHTINGS = ['balanced'] as const;
export type ClassWeighting = (typeof CLASS_WEIGHTINGS)[number];

/**
 * 'balanced' class weights from this dataset's own label counts, n / (k · n_c) for a class with
 * n_c of the n examples, k the number of classes present (scikit-learn's
 * compute_class_weight('balanced') over the labels seen): the examples' weights then average 1,
 * so the step size stays that of the unweighted loss. A class absent here gets 0 (no example has it).
 */
export function balancedClassWeights(dataset: Pick<Dataset, 'labels' | 'count' | 'numClasses'>): Float32Array {
  const counts = new Float64Array(dataset.numClasses);
  for (let i = 0; i < dataset.count; i++) counts[dataset.labels[i]]++;
  const present = counts.filter((c) => c > 0).length;
  return Float32Array.from(counts, (c) => (c > 0 ? dataset.count / (present * c) : 0));
}

/** The per-class loss weights `weighting` asks for on `dataset`, or null for the plain mean loss. */
export function classWeightsFor(dataset: Pick<Dataset, 'labels' | 'count' | 'numClasses'>, weighting: ClassWeighting | undefined): Float32Array | null {
  return weighting === 'balanced' ? balancedClassWeights(dataset) : null;
}
