// Original file: protocols/conclave.proto

import type { TensorHeader as _conclave_v1_TensorHeader, TensorHeader__Output as _conclave_v1_TensorHeader__Output } from '../../conclave/v1/TensorHeader.ts';
import type { OpaqueBody as _conclave_v1_OpaqueBody, OpaqueBody__Output as _conclave_v1_OpaqueBody__Output } from '../../conclave/v1/OpaqueBody.ts';
import type { SecAggTask as _conclave_v1_SecAggTask, SecAggTask__Output as _conclave_v1_SecAggTask__Output } from '../../conclave/v1/SecAggTask.ts';
import type { Long } from '@grpc/proto-loader';

export interface StageTask {
  'roundId'?: (string);
  'roundNumber'?: (number);
  'stage'?: (string);
  'deadlineUnixMs'?: (number | string | Long);
  'tensor'?: (_conclave_v1_TensorHeader | null);
  'opaque'?: (_conclave_v1_OpaqueBody | null);
  'secagg'?: (_conclave_v1_SecAggTask | null);
  'body'?: "opaque"|"secagg";
}

export interface StageTask__Output {
  'roundId': (string);
  'roundNumber': (number);
  'stage': (string);
  'deadlineUnixMs': (number);
  'tensor': (_conclave_v1_TensorHeader__Output | null);
  'opaque'?: (_conclave_v1_OpaqueBody__Output | null);
  'secagg'?: (_conclave_v1_SecAggTask__Output | null);
  'body'?: "opaque"|"secagg";
}
