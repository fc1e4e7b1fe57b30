export * from './messages.js';
export { SecAggAbort, SecAggRefusal, SecAggRejection, type SecAggRefusalReason, type SecAggRejectionReason } from './errors.js';
export { distributedNoiseSigma, dequantizeSum, integerSensitivity, NOISE_TAIL_SIGMAS, quantizationScale, quantize, worstCaseSum } from './quantize.js';
export { defaultNeighbours, isFullGraph, neighbourGraph, shareThreshold } from './graph.js';
export { applyMasks, expandMask, maskPrg, type MaskTerm, type PrgBackend } from './masks.js';
export { SecAggClient } from './client.js';
export { SHARE_CIPHERTEXT_BYTES } from './keys.js';
export { SecAggServer } from './server.js';
