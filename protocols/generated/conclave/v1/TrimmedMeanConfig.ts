// Original file: protocols/conclave.proto

import type { ServerOptimizerConfig as _conclave_v1_ServerOptimizerConfig, ServerOptimizerConfig__Output as _conclave_v1_ServerOptimizerConfig__Output } from '../../conclave/v1/ServerOptimizerConfig.ts';

export interface TrimmedMeanConfig {
  'trimRatio'?: (number | string);
  'serverOptimizer'?: (_conclave_v1_ServerOptimizerConfig | null);
  '_trimRatio'?: "trimRatio";
}

export interface TrimmedMeanConfig__Output {
  'trimRatio'?: (number);
  'serverOptimizer': (_conclave_v1_ServerOptimizerConfig__Output | null);
  '_trimRatio'?: "trimRatio";
}
