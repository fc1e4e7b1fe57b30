import { describe, expect, it } from 'vitest';
import { buildModel, MODEL_SPECS } from '../../src/core/model/index.js';
import { Rng } from '../../src/core/data/rng.js';
import { evaluate, evaluateClassification, selectBackend } from '../../src/core/train/index.js';
import { binaryAuc, confusionMatrix, macroF1, oneVsRestAuc, perClassMetrics } from '../../src/core/train/metrics.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

/** Rows are true classes, columns predictions (scikit-learn's confusion_matrix layout). */
const CONFUSION = [
  [5, 1, 0],
  [2, 3, 1],
  [0, 0, 4],
];

/** The labels and predictions that give CONFUSION. */
function examplesOf(confusion: number[][]): { labels: number[]; predicted: number[] } {
  const labels: number[] = [];
  const predicted: number[] = [];
  confusion.forEach((row, t) =>
    row.forEach((n, p) => {
      for (let i = 0; i < n; i++) {
        labels.push(t);
        predicted.push(p);
      }
    }),
  );
  return { labels, predicted };
}

describe('classification metrics', () => {
  it('count the confusion matrix with true classes as rows', () => {
    const { labels, predicted } = examplesOf(CONFUSION);
    expect(confusionMatrix(labels, predicted, 3)).toEqual(CONFUSION);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/out of range/);
  });

  it('give per-class precision, recall, F1 and macro-F1 equal to hand-checked scikit-learn values', () => {
    // Class 0: tp 5, 7 predicted, 6 true; class 1: tp 3, 4 predicted, 6 true; class 2: tp 4, 5 predicted, 4 true.
    // F1 = 2tp / (predicted + true): 10/13, 6/10, 8/9; macro-F1 = their mean = 0.752706552706...
    const perClass = perClassMetrics(CONFUSION);
    const expected = [
      { label: 0, precision: 0.714285714286, recall: 0.833333333333, f1: 0.769230769231 },
      { label: 1, precision: 0.75, recall: 0.5, f1: 0.6 },
      { label: 2, precision: 0.8, recall: 1, f1: 0.888888888889 },
    ];
    perClass.forEach((c, i) => {
      expect(c.label).toBe(expected[i].label);
      expect(c.precision).toBeCloseTo(expected[i].precision, 10);
      expect(c.recall).toBeCloseTo(expected[i].recall, 10);
      expect(c.f1).toBeCloseTo(expected[i].f1, 10);
    });
    expect(macroF1(CONFUSION)).toBeCloseTo(0.752706552707, 10);
  });

  it('count 0/0 as 0 and leave classes never seen nor predicted out of macro-F1, as scikit-learn does', () => {
    // Class 2 is predicted once but never true (precision 0/1, recall 0/0 -> 0); class 3 never appears at all.
    const confusion = [
      [2, 0, 1, 0],
      [1, 2, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ];
    const perClass = perClassMetrics(confusion);
    expect(perClass[2]).toEqual({ label: 2, precision: 0, recall: 0, f1: 0 });
    // F1: class 0 = 4/6, class 1 = 4/5, class 2 = 0; mean over 3 classes.
    expect(macroF1(confusion)).toBeCloseTo((4 / 6 + 4 / 5 + 0) / 3, 12);
  });

  it('give the ROC-AUC of scikit-learn’s roc_auc_score example and of a brute-force pairwise count', () => {
    // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    expect(binaryAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(binaryAuc([0.1, 0.2], [true, true])).toBeNull();
    const rng = new Rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 50 + trial * 13;
      // Scores on a coarse grid: many ties, which count 1/2 each.
      const scores = Array.from({ length: n }, () => Math.floor(rng.nextFloat() * 20) / 20);
      const positive = scores.map((s) => rng.nextFloat() < 0.3 + 0.4 * s);
      let wins = 0;
      let pairs = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (!positive[i] || positive[j]) continue;
          pairs++;
          wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
      }
      expect(binaryAuc(scores, positive)).toBeCloseTo(wins / pairs, 12);
    }
  });

  it('average one-vs-rest AUC over the classes that have positives and negatives', () => {
    // 3 classes, 4 examples: class 0 ranks perfectly (AUC 1), class 1 at 0.75 (one tie), class 2 never occurs (skipped).
    const probs = [0.9, 0.05, 0.05, 0.8, 0.1, 0.1, 0.2, 0.1, 0.7, 0.1, 0.1, 0.8];
    const labels = [0, 0, 1, 1];
    const class1 = binaryAuc([0.05, 0.1, 0.1, 0.1], [false, false, true, true]);
    expect(class1).toBe(0.75);
    expect(oneVsRestAuc(probs, labels, 3)).toBeCloseTo((1 + 0.75) / 2, 12);
  });
});

describe('evaluateClassification', () => {
  it('agrees with evaluate on loss and accuracy and fills the per-class metrics on real digits', async () => {
    await selectBackend('cpu');
    const data = mnistDigits(0, 20);
    const model = buildModel(MODEL_SPECS.mlp, { seed: 3 });
    const plain = evaluate(model, data);
    const full = evaluateClassification(model, data, 64);
    expect(full.accuracy).toBeCloseTo(plain.accuracy, 12);
    expect(full.loss).toBeCloseTo(plain.loss, 5);
    expect(full.confusion.flat().reduce((a, b) => a + b, 0)).toBe(data.count);
    expect(full.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(new Array(10).fill(20));
    expect(full.perClass).toHaveLength(10);
    expect(full.auc).toBeGreaterThan(0);
    expect(full.auc).toBeLessThanOrEqual(1);
    model.dispose();
  });
});
