// Original file: protocols/conclave.proto

import type { FedAvgConfig as _conclave_v1_FedAvgConfig, FedAvgConfig__Output as _conclave_v1_FedAvgConfig__Output } from '../../conclave/v1/FedAvgConfig.ts';

export interface AggregationConfig {
  'fedavg'?: (_conclave_v1_FedAvgConfig | null);
  'kind'?: "fedavg";
}

export interface AggregationConfig__Output {
  'fedavg'?: (_conclave_v1_FedAvgConfig__Output | null);
  'kind'?: "fedavg";
}
