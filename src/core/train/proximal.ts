import * as tf from '@tensorflow/tfjs';

/**
 * FedProx's proximal term μ/2 · Σ ‖w − w_global‖² over the trainable weights (Li et al. 2020,
 * "Federated Optimization in Heterogeneous Networks", eq. 2); its gradient is μ (w − w_global).
 */
export function proximalTerm(weights: readonly tf.Tensor[], anchors: readonly tf.Tensor[], mu: number): tf.Scalar {
  if (weights.length !== anchors.length) throw new Error(`${weights.length} weights but ${anchors.length} anchors`);
  return tf.mul<tf.Scalar>(mu / 2, tf.addN(weights.map((w, i) => tf.sum(tf.squaredDifference(w, anchors[i])))));
}
