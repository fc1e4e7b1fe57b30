import * as tf from '@tensorflow/tfjs';

/** Probabilities are clipped here before the log, as Keras does. */
const EPSILON = 1e-7;
/** The largest cross-entropy one example can contribute: −ln(EPSILON) ≈ 16.12. */
export const MAX_EXAMPLE_LOSS = -Math.log(EPSILON);

/**
 * Mean cross-entropy of softmax outputs `probs` [n, k] against integer `labels` [n]; with
 * `classWeights` [k], each example's term is multiplied by its class's weight before the mean
 * (Keras's class_weight).
 */
export function crossEntropy(probs: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number, classWeights?: tf.Tensor1D | null): tf.Scalar {
  const picked = tf.sum(tf.mul(probs, tf.oneHot(labels, numClasses)), 1);
  const logs = tf.log(tf.clipByValue(picked, EPSILON, 1));
  if (!classWeights) return tf.neg(tf.mean(logs)) as tf.Scalar;
  return tf.neg(tf.mean(tf.mul(logs, tf.gather(classWeights, labels)))) as tf.Scalar;
}

/** How many rows of `probs` put their largest probability on the label. */
export function countCorrect(probs: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), labels), 'float32'));
}
