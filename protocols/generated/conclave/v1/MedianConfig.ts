// Original file: protocols/conclave.proto

import type { ServerOptimizerConfig as _conclave_v1_ServerOptimizerConfig, ServerOptimizerConfig__Output as _conclave_v1_ServerOptimizerConfig__Output } from '../../conclave/v1/ServerOptimizerConfig.ts';

export interface MedianConfig {
  'serverOptimizer'?: (_conclave_v1_ServerOptimizerConfig | null);
}

export interface MedianConfig__Output {
  'serverOptimizer': (_conclave_v1_ServerOptimizerConfig__Output | null);
}
