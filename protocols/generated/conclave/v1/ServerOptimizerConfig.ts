// Original file: protocols/conclave.proto

import type { SgdConfig as _conclave_v1_SgdConfig, SgdConfig__Output as _conclave_v1_SgdConfig__Output } from '../../conclave/v1/SgdConfig.ts';
import type { FedAvgMConfig as _conclave_v1_FedAvgMConfig, FedAvgMConfig__Output as _conclave_v1_FedAvgMConfig__Output } from '../../conclave/v1/FedAvgMConfig.ts';
import type { AdaptiveOptimizerConfig as _conclave_v1_AdaptiveOptimizerConfig, AdaptiveOptimizerConfig__Output as _conclave_v1_AdaptiveOptimizerConfig__Output } from '../../conclave/v1/AdaptiveOptimizerConfig.ts';

export interface ServerOptimizerConfig {
  'sgd'?: (_conclave_v1_SgdConfig | null);
  'fedavgm'?: (_conclave_v1_FedAvgMConfig | null);
  'fedadam'?: (_conclave_v1_AdaptiveOptimizerConfig | null);
  'fedyogi'?: (_conclave_v1_AdaptiveOptimizerConfig | null);
  'fedadagrad'?: (_conclave_v1_AdaptiveOptimizerConfig | null);
  'kind'?: "sgd"|"fedavgm"|"fedadam"|"fedyogi"|"fedadagrad";
}

export interface ServerOptimizerConfig__Output {
  'sgd'?: (_conclave_v1_SgdConfig__Output | null);
  'fedavgm'?: (_conclave_v1_FedAvgMConfig__Output | null);
  'fedadam'?: (_conclave_v1_AdaptiveOptimizerConfig__Output | null);
  'fedyogi'?: (_conclave_v1_AdaptiveOptimizerConfig__Output | null);
  'fedadagrad'?: (_conclave_v1_AdaptiveOptimizerConfig__Output | null);
  'kind'?: "sgd"|"fedavgm"|"fedadam"|"fedyogi"|"fedadagrad";
}
