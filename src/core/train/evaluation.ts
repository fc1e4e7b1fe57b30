import * as tf from '@tensorflow/tfjs';
import { featureSize, type Dataset } from '../data/dataset.js';
import { crossEntropy } from './loss.js';
import { classCounts, classificationMetrics, type ClassCounts, type ClassificationMetrics } from './metrics.js';
import { checkCompatible, checkPositiveInt } from './sgd.js';

export interface ClassificationEvaluation extends ClassificationMetrics {
  loss: number;
  accuracy: number;
}

/**
 * Mean loss, accuracy and the per-class metrics (metrics.ts) of `model` on `dataset`, in
 * contiguous batches: the class scores of every example are kept (n × classes floats) for the ROC-AUC.
 */
export function evaluateClassification(model: tf.LayersModel, dataset: Dataset, batchSize = 500): ClassificationEvaluation {
  checkCompatible(model, dataset);
  checkPositiveInt('batchSize', batchSize);
  const { count, numClasses } = dataset;
  const size = featureSize(dataset);
  const probs = new Float32Array(count * numClasses);
  const predicted = new Int32Array(count);
  let lossSum = 0;
  for (let first = 0; first < count; first += batchSize) {
    const rows = Math.min(batchSize, count - first);
    const outputs = tf.tidy(() => {
      const xs = tf.tensor(dataset.features.subarray(first * size, (first + rows) * size), [rows, ...dataset.inputShape], 'float32');
      const ys = tf.tensor1d(Int32Array.from(dataset.labels.subarray(first, first + rows)), 'int32');
      const out = model.apply(xs) as tf.Tensor2D;
      return [out, tf.argMax(out, 1), crossEntropy(out, ys, numClasses)];
    });
    const [out, argMax, loss] = outputs;
    probs.set(out.dataSync(), first * numClasses);
    predicted.set(argMax.dataSync(), first);
    lossSum += loss.dataSync()[0] * rows;
    tf.dispose(outputs);
  }
  const metrics = classificationMetrics(dataset.labels, predicted, probs, numClasses);
  const correct = metrics.confusion.reduce((a, row, c) => a + row[c], 0);
  return { loss: lossSum / count, accuracy: correct / count, ...metrics };
}

/** What federated evaluation sends (protocol/federated-eval.ts): counts that add up across members. */
export interface EvaluationCounts extends ClassCounts {
  examples: number;
  correct: number;
  /** Σ cross-entropy over the examples. */
  lossSum: number;
}

/** The counts of `model` on `dataset`: examples, correct, Σ loss, and per class support, true positives and predictions. */
export function evaluationCounts(model: tf.LayersModel, dataset: Dataset): EvaluationCounts {
  if (dataset.count === 0) {
    const zeros = () => new Array<number>(dataset.numClasses).fill(0);
    return { examples: 0, correct: 0, lossSum: 0, support: zeros(), truePositives: zeros(), predicted: zeros() };
  }
  const { confusion, loss } = evaluateClassification(model, dataset);
  const counts = classCounts(confusion);
  const correct = counts.truePositives.reduce((a, b) => a + b, 0);
  return { examples: dataset.count, correct, lossSum: loss * dataset.count, ...counts };
}
