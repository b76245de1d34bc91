export { DpError, assertDelta } from './errors.ts';
export type { DpErrorCode } from './errors.ts';
export { validateEvents, validateEvent, groupEvents, bucketEvents, isUnboundedNoise } from './events.ts';
export type { GaussianEvent, AccountantKind } from './events.ts';
export {
  DEFAULT_ORDERS,
  RdpAccountant,
  rdpVector,
  rdpAtOrders,
  rdpPoissonGaussian,
  rdpWithoutReplacementGaussian,
  epsilonFromRdp,
  logAQuadrature,
} from './rdp.ts';
export { composeRdp, rdpEpsilon } from './rdp-compose.ts';
export type { RdpComposeOptions } from './rdp-compose.ts';
export { PldAccountant, pldEpsilon, composePlds, discretizeSubsampledGaussian, pldDelta, pldEpsilonFor } from './pld.ts';
export type { PldOptions, DiscretePld, ComposedPld } from './pld.ts';
export { computeEpsilon, tightestEpsilon, calibrateNoiseMultiplier } from './accountant.ts';
export type { EpsilonResult, TightestEpsilonResult, CalibrationRequest, ComputeOptions } from './accountant.ts';
export { analyticGaussianSigma, analyticGaussianDelta, gaussianEpsilon } from './analytic-gaussian.ts';
export { addGaussianNoise, gaussianSamples } from './noise.ts';
export { l2Norm, clipToNorm } from './clip.ts';
export {
  clippedIndicator,
  updateClipNorm,
  noisedUnclippedFraction,
  updateNoiseMultiplierFor,
  effectiveNoiseMultiplier as adaptiveClipEffectiveNoiseMultiplier,
} from './adaptive-clip.ts';
export type { ClipUpdate } from './adaptive-clip.ts';
export { siteNoiseStd, effectiveNoiseMultiplier as distributedEffectiveNoiseMultiplier } from './distributed.ts';
export * as adaptiveClip from './adaptive-clip.ts';
export * as distributed from './distributed.ts';
export { rdpBudgetCurve, filterAdmits } from './filter.ts';
