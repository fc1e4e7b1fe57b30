export { activeBackendLabel, selectBackend } from './backend.js';
export type { BackendInfo, BackendName } from './backend.js';
export { installConvGradients } from './conv-gradients.js';
export { startTrainingWorkers, stopTrainingWorkers } from './parallel.js';
export { evaluate, noteTrainingThroughput, trainingThreads, trainingWorkersUnavailable, trainLocal, workersWorthSplitting } from './train.js';
export type { TrainOptions, TrainProgress, TrainResult } from './train.js';
