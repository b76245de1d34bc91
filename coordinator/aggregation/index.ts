export type {
  AggregateResult, Aggregator, AggregatorCapability, IndividualAggregator, ProtectionOutput, RoundAggregation, StreamingSumAggregator,
  SumAggregation, UpdateReport, WeightedSum, Weighting,
} from './aggregator.ts';
export { aggregationConflict } from './aggregator.ts';
export { uniformMean, weightedMean } from './mean.ts';
export { differentialPrivacy, type DpAggregationOptions } from './dp.ts';
export { checkStep, sgd, type OptimizerState, type ServerOptimizer, type SgdOptions } from './server-optimizers.ts';
export { aggregationFor, serverOptimizerFor } from './for-config.ts';
