// Original file: protocols/conclave.proto

import type { TensorHeader as _conclave_v1_TensorHeader, TensorHeader__Output as _conclave_v1_TensorHeader__Output } from '../../conclave/v1/TensorHeader.ts';
import type { UpdateBody as _conclave_v1_UpdateBody, UpdateBody__Output as _conclave_v1_UpdateBody__Output } from '../../conclave/v1/UpdateBody.ts';
import type { OpaqueBody as _conclave_v1_OpaqueBody, OpaqueBody__Output as _conclave_v1_OpaqueBody__Output } from '../../conclave/v1/OpaqueBody.ts';
import type { SecAggBody as _conclave_v1_SecAggBody, SecAggBody__Output as _conclave_v1_SecAggBody__Output } from '../../conclave/v1/SecAggBody.ts';

export interface StageHeader {
  'roundId'?: (string);
  'stage'?: (string);
  'tensor'?: (_conclave_v1_TensorHeader | null);
  'update'?: (_conclave_v1_UpdateBody | null);
  'opaque'?: (_conclave_v1_OpaqueBody | null);
  'secagg'?: (_conclave_v1_SecAggBody | null);
  'resumeFromChunk'?: (number);
  'body'?: "update"|"opaque"|"secagg";
}

export interface StageHeader__Output {
  'roundId': (string);
  'stage': (string);
  'tensor': (_conclave_v1_TensorHeader__Output | null);
  'update'?: (_conclave_v1_UpdateBody__Output | null);
  'opaque'?: (_conclave_v1_OpaqueBody__Output | null);
  'secagg'?: (_conclave_v1_SecAggBody__Output | null);
  'resumeFromChunk': (number);
  'body'?: "update"|"opaque"|"secagg";
}
