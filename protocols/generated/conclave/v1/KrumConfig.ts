// Original file: protocols/conclave.proto

import type { ServerOptimizerConfig as _conclave_v1_ServerOptimizerConfig, ServerOptimizerConfig__Output as _conclave_v1_ServerOptimizerConfig__Output } from '../../conclave/v1/ServerOptimizerConfig.ts';

export interface KrumConfig {
  'byzantine'?: (number);
  'select'?: (number);
  'serverOptimizer'?: (_conclave_v1_ServerOptimizerConfig | null);
  '_byzantine'?: "byzantine";
  '_select'?: "select";
}

export interface KrumConfig__Output {
  'byzantine'?: (number);
  'select'?: (number);
  'serverOptimizer': (_conclave_v1_ServerOptimizerConfig__Output | null);
  '_byzantine'?: "byzantine";
  '_select'?: "select";
}
