// Original file: protocols/conclave.proto

import type { NoProtectionConfig as _conclave_v1_NoProtectionConfig, NoProtectionConfig__Output as _conclave_v1_NoProtectionConfig__Output } from '../../conclave/v1/NoProtectionConfig.ts';
import type { SecAggConfig as _conclave_v1_SecAggConfig, SecAggConfig__Output as _conclave_v1_SecAggConfig__Output } from '../../conclave/v1/SecAggConfig.ts';
import type { HeProtectionConfig as _conclave_v1_HeProtectionConfig, HeProtectionConfig__Output as _conclave_v1_HeProtectionConfig__Output } from '../../conclave/v1/HeProtectionConfig.ts';

export interface ProtectionConfig {
  'none'?: (_conclave_v1_NoProtectionConfig | null);
  'secagg'?: (_conclave_v1_SecAggConfig | null);
  'he'?: (_conclave_v1_HeProtectionConfig | null);
  'kind'?: "none"|"secagg"|"he";
}

export interface ProtectionConfig__Output {
  'none'?: (_conclave_v1_NoProtectionConfig__Output | null);
  'secagg'?: (_conclave_v1_SecAggConfig__Output | null);
  'he'?: (_conclave_v1_HeProtectionConfig__Output | null);
  'kind'?: "none"|"secagg"|"he";
}
