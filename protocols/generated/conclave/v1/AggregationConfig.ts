// Original file: protocols/conclave.proto

import type { FedAvgConfig as _conclave_v1_FedAvgConfig, FedAvgConfig__Output as _conclave_v1_FedAvgConfig__Output } from '../../conclave/v1/FedAvgConfig.ts';
import type { MedianConfig as _conclave_v1_MedianConfig, MedianConfig__Output as _conclave_v1_MedianConfig__Output } from '../../conclave/v1/MedianConfig.ts';
import type { TrimmedMeanConfig as _conclave_v1_TrimmedMeanConfig, TrimmedMeanConfig__Output as _conclave_v1_TrimmedMeanConfig__Output } from '../../conclave/v1/TrimmedMeanConfig.ts';
import type { KrumConfig as _conclave_v1_KrumConfig, KrumConfig__Output as _conclave_v1_KrumConfig__Output } from '../../conclave/v1/KrumConfig.ts';

export interface AggregationConfig {
  'fedavg'?: (_conclave_v1_FedAvgConfig | null);
  'median'?: (_conclave_v1_MedianConfig | null);
  'trimmedMean'?: (_conclave_v1_TrimmedMeanConfig | null);
  'krum'?: (_conclave_v1_KrumConfig | null);
  'kind'?: "fedavg"|"median"|"trimmedMean"|"krum";
}

export interface AggregationConfig__Output {
  'fedavg'?: (_conclave_v1_FedAvgConfig__Output | null);
  'median'?: (_conclave_v1_MedianConfig__Output | null);
  'trimmedMean'?: (_conclave_v1_TrimmedMeanConfig__Output | null);
  'krum'?: (_conclave_v1_KrumConfig__Output | null);
  'kind'?: "fedavg"|"median"|"trimmedMean"|"krum";
}
