// Original file: protocols/conclave.proto

import type { TensorHeader as _conclave_v1_TensorHeader, TensorHeader__Output as _conclave_v1_TensorHeader__Output } from '../../conclave/v1/TensorHeader.ts';
import type { TensorChunk as _conclave_v1_TensorChunk, TensorChunk__Output as _conclave_v1_TensorChunk__Output } from '../../conclave/v1/TensorChunk.ts';

export interface StageTensorMessage {
  'header'?: (_conclave_v1_TensorHeader | null);
  'chunk'?: (_conclave_v1_TensorChunk | null);
  'part'?: "header"|"chunk";
}

export interface StageTensorMessage__Output {
  'header'?: (_conclave_v1_TensorHeader__Output | null);
  'chunk'?: (_conclave_v1_TensorChunk__Output | null);
  'part'?: "header"|"chunk";
}
