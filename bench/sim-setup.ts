/** The local-training and DP-off settings the strategy and compression benches share (MNIST-style MLP, 2 epochs). */
export const DP_OFF_MLP = {
  model: 'mlp',
  dp: 'off',
  noiseMultiplier: 1,
  clipNorm: 1,
  samplingRate: 1,
  delta: 1e-5,
  epochs: 2,
  batchSize: 16,
  learningRate: 0.05,
  roundTimeoutSeconds: 600,
} as const;
