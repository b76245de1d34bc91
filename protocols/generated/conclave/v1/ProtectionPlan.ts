// Original file: protocols/conclave.proto

import type { NoneParams as _conclave_v1_NoneParams, NoneParams__Output as _conclave_v1_NoneParams__Output } from '../../conclave/v1/NoneParams.ts';
import type { OpaqueBody as _conclave_v1_OpaqueBody, OpaqueBody__Output as _conclave_v1_OpaqueBody__Output } from '../../conclave/v1/OpaqueBody.ts';

export interface ProtectionPlan {
  'protocol'?: (string);
  'stages'?: (string)[];
  'none'?: (_conclave_v1_NoneParams | null);
  'opaque'?: (_conclave_v1_OpaqueBody | null);
  'params'?: "none"|"opaque";
}

export interface ProtectionPlan__Output {
  'protocol': (string);
  'stages': (string)[];
  'none'?: (_conclave_v1_NoneParams__Output | null);
  'opaque'?: (_conclave_v1_OpaqueBody__Output | null);
  'params'?: "none"|"opaque";
}
