// Original file: protocols/conclave.proto

import type { ServerOptimizerConfig as _conclave_v1_ServerOptimizerConfig, ServerOptimizerConfig__Output as _conclave_v1_ServerOptimizerConfig__Output } from '../../conclave/v1/ServerOptimizerConfig.ts';

export interface FedAvgConfig {
  'weighting'?: (string);
  'serverOptimizer'?: (_conclave_v1_ServerOptimizerConfig | null);
}

export interface FedAvgConfig__Output {
  'weighting': (string);
  'serverOptimizer': (_conclave_v1_ServerOptimizerConfig__Output | null);
}
