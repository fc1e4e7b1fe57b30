export { DEFAULT_ORDERS, computeEpsilon, computeRdp, epsilonFromRdp, rdpSubsampledGaussian, type RoundRecord } from './rdp.js';
export { accountant, DEFAULT_ACCOUNTANT, type Accountant } from './accountant.js';
export { clipToNorm, l2Norm, updateDelta } from './clip.js';
export { privatizeUpdate, type PrivatizedUpdate } from './privatize.js';
export { NOISE_PLACEMENT, noisePlan, type NoisePlacement, type NoisePlan } from './noise-plan.js';
export { addGaussianNoise, gaussianSamples, type NoiseMode } from './noise.js';
export { addGridGaussianNoise, gridNoiseFor, type GridNoise } from './grid-noise.js';
export {
  addDiscreteGaussianNoise,
  discreteGaussianSamples,
  discreteGaussianVariance,
  distributedDiscreteGaussianRdp,
  distributedDiscreteGaussianTau,
  MAX_DISCRETE_GAUSSIAN_SIGMA,
  type DistributedRdpArgs,
} from './discrete-gaussian.js';
export * from './ledger.js';
export { gaussianDelta, gaussianEpsilon } from './analytic-gaussian.js';
export { prvEpsilon, type PrvOptions, type PrvResult } from './prv.js';
export { ACCOUNTANTS, epsilonFor, type AccountantName, type EpsilonResult } from './epsilon.js';
export { noiseForTargetEpsilon, type NoiseForTargetArgs } from './inverse.js';
export {
  accountantInputProblems,
  MAX_NOISE_MULTIPLIER,
  MIN_NOISE_MULTIPLIER,
  validateAccountantInputs,
  type AccountantInputProblem,
  type AccountantInputs,
} from './validate.js';
