export { selectBackend } from './backend.js';
export type { BackendInfo, BackendName } from './backend.js';
export { installConvGradients } from './conv-gradients.js';
export { evaluate, trainLocal } from './train.js';
export type { TrainOptions, TrainProgress, TrainResult } from './train.js';
