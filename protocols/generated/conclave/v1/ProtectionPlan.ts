// Original file: protocols/conclave.proto

import type { NoneParams as _conclave_v1_NoneParams, NoneParams__Output as _conclave_v1_NoneParams__Output } from '../../conclave/v1/NoneParams.ts';
import type { OpaqueBody as _conclave_v1_OpaqueBody, OpaqueBody__Output as _conclave_v1_OpaqueBody__Output } from '../../conclave/v1/OpaqueBody.ts';
import type { SecAggParams as _conclave_v1_SecAggParams, SecAggParams__Output as _conclave_v1_SecAggParams__Output } from '../../conclave/v1/SecAggParams.ts';

export interface ProtectionPlan {
  'protocol'?: (string);
  'stages'?: (string)[];
  'none'?: (_conclave_v1_NoneParams | null);
  'opaque'?: (_conclave_v1_OpaqueBody | null);
  'secagg'?: (_conclave_v1_SecAggParams | null);
  'params'?: "none"|"opaque"|"secagg";
}

export interface ProtectionPlan__Output {
  'protocol': (string);
  'stages': (string)[];
  'none'?: (_conclave_v1_NoneParams__Output | null);
  'opaque'?: (_conclave_v1_OpaqueBody__Output | null);
  'secagg'?: (_conclave_v1_SecAggParams__Output | null);
  'params'?: "none"|"opaque"|"secagg";
}
