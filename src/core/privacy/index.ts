export { DEFAULT_ORDERS, computeEpsilon, computeRdp, epsilonFromRdp, rdpSubsampledGaussian, type RoundRecord } from './rdp.js';
export { RdpAccountant } from './accountant.js';
export { clipToNorm, l2Norm, updateDelta } from './clip.js';
export { addGaussianNoise, gaussianSamples, noiseStd, type NoiseMode } from './noise.js';
export * from './ledger.js';
export { LedgerError, LedgerFile, ledgerPath, listLedgers } from './ledger-file.js';
