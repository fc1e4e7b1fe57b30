export { LayerSpecSchema, ModelSpecSchema, MODEL_NAMES, MODEL_SPECS, ModelNameSchema, isModelName, modelSpecFor } from './spec.js';
export type { LayerSpec, ModelName, ModelSpec } from './spec.js';
export { buildModel } from './build.js';
export { parameterCount } from './parameters.js';
export { getFlatWeights, setFlatWeights, weightShapes } from './weights.js';
