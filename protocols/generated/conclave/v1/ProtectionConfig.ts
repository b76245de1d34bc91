// Original file: protocols/conclave.proto

import type { NoProtectionConfig as _conclave_v1_NoProtectionConfig, NoProtectionConfig__Output as _conclave_v1_NoProtectionConfig__Output } from '../../conclave/v1/NoProtectionConfig.ts';

export interface ProtectionConfig {
  'none'?: (_conclave_v1_NoProtectionConfig | null);
  'kind'?: "none";
}

export interface ProtectionConfig__Output {
  'none'?: (_conclave_v1_NoProtectionConfig__Output | null);
  'kind'?: "none";
}
