export { LayerSpecSchema, ModelSpecSchema, MODEL_NAMES, MODEL_SPECS, ModelNameSchema, isModelName, modelSpecFor } from './spec.js';
export type { LayerSpec, ModelName, ModelSpec } from './spec.js';
export { buildModel, setTrainableLayers } from './build.js';
export { layerWeights, parameterCount, type LayerWeights } from './parameters.js';
export { mergeTrainable, selectTrainable, trainableProblem, trainableSlice, type TrainableSlice } from './trainable.js';
export { getFlatWeights, layerOrderWeights, setFlatWeights, weightShapes } from './weights.js';
