export { activeBackendLabel, selectBackend } from './backend.js';
export type { BackendInfo, BackendName } from './backend.js';
export { installConvGradients } from './conv-gradients.js';
export { startTrainingWorkers, stopTrainingWorkers } from './parallel.js';
export { evaluate, noteTrainingThroughput, trainingThreads, trainingWorkersUnavailable, trainLocal, workersWorthSplitting } from './train.js';
export type { TrainOptions, TrainProgress, TrainResult } from './train.js';
export { evaluateClassification, evaluationCounts } from './evaluation.js';
export type { ClassificationEvaluation, EvaluationCounts } from './evaluation.js';
export type { ClassMetrics, ClassificationMetrics } from './metrics.js';
