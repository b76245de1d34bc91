// Original file: protocols/conclave.proto

import type { SgdConfig as _conclave_v1_SgdConfig, SgdConfig__Output as _conclave_v1_SgdConfig__Output } from '../../conclave/v1/SgdConfig.ts';

export interface ServerOptimizerConfig {
  'sgd'?: (_conclave_v1_SgdConfig | null);
  'kind'?: "sgd";
}

export interface ServerOptimizerConfig__Output {
  'sgd'?: (_conclave_v1_SgdConfig__Output | null);
  'kind'?: "sgd";
}
