import * as tf from '@tensorflow/tfjs';

/** Probabilities are clipped here before the log, as Keras does. */
const EPSILON = 1e-7;

/** Mean cross-entropy of softmax outputs `probs` [n, k] against integer `labels` [n]. */
export function crossEntropy(probs: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Scalar {
  const picked = tf.sum(tf.mul(probs, tf.oneHot(labels, numClasses)), 1);
  return tf.neg(tf.mean(tf.log(tf.clipByValue(picked, EPSILON, 1)))) as tf.Scalar;
}

/** How many rows of `probs` put their largest probability on the label. */
export function countCorrect(probs: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), labels), 'float32'));
}
