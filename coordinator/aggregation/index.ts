export type {
  AggregateResult, Aggregator, AggregatorCapability, IndividualAggregator, ProtectionOutput, RoundAggregation, StreamingSumAggregator,
  SumAggregation, UpdateReport, WeightedSum, Weighting,
} from './aggregator.ts';
export { aggregationConflict } from './aggregator.ts';
export { uniformMean, weightedMean } from './mean.ts';
export { differentialPrivacy, type DpAggregationOptions } from './dp.ts';
export {
  adaptive, checkStep, fedAvgM, sgd, type AdaptiveKind, type AdaptiveOptions, type FedAvgMOptions, type OptimizerState, type ServerOptimizer, type SgdOptions,
} from './server-optimizers.ts';
export { coordinateMedian } from './median.ts';
export { trimmedMean } from './trimmed-mean.ts';
export { krum, krumSelect } from './krum.ts';
export { aggregationFor, serverOptimizerFor } from './for-config.ts';
