/**
 * Classification metrics of a model's predictions, as pure functions of numbers: the confusion
 * matrix, per-class precision, recall and F1, macro-F1, and one-vs-rest ROC-AUC. The definitions
 * are scikit-learn's (`confusion_matrix`, `precision_recall_fscore_support` with zero_division=0,
 * `f1_score(average='macro')`, `roc_auc_score(multi_class='ovr', average='macro')`).
 */

export interface ClassMetrics {
  label: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationMetrics {
  /** confusion[t][p]: examples of true class t predicted as class p. */
  confusion: number[][];
  perClass: ClassMetrics[];
  /** Mean F1 over the classes that occur as a label or a prediction. */
  macroF1: number;
  /** Mean one-vs-rest ROC-AUC over the classes with both positive and negative examples; null if none. */
  auc: number | null;
}

/** confusion[t][p] counts the examples of true class t predicted as p. */
export function confusionMatrix(labels: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): number[][] {
  if (labels.length !== predicted.length) throw new Error(`${labels.length} labels but ${predicted.length} predictions`);
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predicted[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses)) throw new Error(`class out of range at example ${i}: label ${t}, prediction ${p}`);
    confusion[t][p]++;
  }
  return confusion;
}

/** Per class: examples of that class (support), those predicted right (true positives), and predictions of it. */
export interface ClassCounts {
  support: number[];
  truePositives: number[];
  predicted: number[];
}

/** The row sums, diagonal and column sums of a confusion matrix. */
export function classCounts(confusion: number[][]): ClassCounts {
  return {
    support: confusion.map((row) => row.reduce((a, b) => a + b, 0)),
    truePositives: confusion.map((row, c) => row[c]),
    predicted: confusion.map((_, p) => confusion.reduce((a, row) => a + row[p], 0)),
  };
}

/** Precision tp/(tp+fp), recall tp/(tp+fn) and their harmonic mean per class; a 0/0 ratio counts as 0. */
export function perClassFromCounts({ support, truePositives, predicted }: ClassCounts): ClassMetrics[] {
  return truePositives.map((tp, label) => {
    const precision = predicted[label] === 0 ? 0 : tp / predicted[label];
    const recall = support[label] === 0 ? 0 : tp / support[label];
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1 };
  });
}

export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  return perClassFromCounts(classCounts(confusion));
}

/** Unweighted mean F1 over the classes present as a label or a prediction (scikit-learn's default label set). */
export function macroF1FromCounts(counts: ClassCounts, perClass: ClassMetrics[] = perClassFromCounts(counts)): number {
  const present = perClass.filter(({ label }) => counts.support[label] > 0 || counts.predicted[label] > 0);
  return present.length === 0 ? 0 : present.reduce((a, c) => a + c.f1, 0) / present.length;
}

export function macroF1(confusion: number[][], perClass?: ClassMetrics[]): number {
  return macroF1FromCounts(classCounts(confusion), perClass);
}

/**
 * ROC-AUC of `scores` for the examples marked positive, as the normalised Mann–Whitney U statistic
 * (Mann & Whitney 1947; AUC = U / (n₊ n₋), Hanley & McNeil 1982): the probability that a random
 * positive scores above a random negative, ties counting ½ (midranks). Null without both classes.
 */
export function binaryAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    // Ranks start..end-1 (0-based) are tied: each gets the midrank, 1-based.
    const midrank = (start + 1 + end) / 2;
    for (let j = start; j < end; j++) {
      if (positive[order[j]]) {
        positives++;
        rankSum += midrank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Macro one-vs-rest ROC-AUC of class scores `probs` (row-major, n × numClasses) over the classes with both positives and negatives. */
export function oneVsRestAuc(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number | null {
  const n = labels.length;
  if (probs.length !== n * numClasses) throw new Error(`${probs.length} scores for ${n} examples of ${numClasses} classes`);
  const scores = new Float64Array(n);
  const positive = new Array<boolean>(n);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < n; i++) {
      scores[i] = probs[i * numClasses + c];
      positive[i] = labels[i] === c;
    }
    const auc = binaryAuc(scores, positive);
    if (auc === null) continue;
    sum += auc;
    classes++;
  }
  return classes === 0 ? null : sum / classes;
}

/** Every metric above from labels, arg-max predictions and class scores. */
export function classificationMetrics(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  probs: ArrayLike<number>,
  numClasses: number,
): ClassificationMetrics {
  const confusion = confusionMatrix(labels, predicted, numClasses);
  const perClass = perClassMetrics(confusion);
  return { confusion, perClass, macroF1: macroF1(confusion, perClass), auc: oneVsRestAuc(probs, labels, numClasses) };
}
