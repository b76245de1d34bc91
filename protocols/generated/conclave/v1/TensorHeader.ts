// Original file: protocols/conclave.proto

import type { TensorSpec as _conclave_v1_TensorSpec, TensorSpec__Output as _conclave_v1_TensorSpec__Output } from '../../conclave/v1/TensorSpec.ts';
import type { Long } from '@grpc/proto-loader';

export interface TensorHeader {
  'layout'?: (_conclave_v1_TensorSpec)[];
  'totalElements'?: (number | string | Long);
  'sha256'?: (Buffer | Uint8Array | string);
  'chunkCount'?: (number);
}

export interface TensorHeader__Output {
  'layout': (_conclave_v1_TensorSpec__Output)[];
  'totalElements': (number);
  'sha256': (Buffer);
  'chunkCount': (number);
}
