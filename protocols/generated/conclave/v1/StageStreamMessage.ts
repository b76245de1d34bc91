// Original file: protocols/conclave.proto

import type { StageHeader as _conclave_v1_StageHeader, StageHeader__Output as _conclave_v1_StageHeader__Output } from '../../conclave/v1/StageHeader.ts';
import type { TensorChunk as _conclave_v1_TensorChunk, TensorChunk__Output as _conclave_v1_TensorChunk__Output } from '../../conclave/v1/TensorChunk.ts';

export interface StageStreamMessage {
  'header'?: (_conclave_v1_StageHeader | null);
  'chunk'?: (_conclave_v1_TensorChunk | null);
  'part'?: "header"|"chunk";
}

export interface StageStreamMessage__Output {
  'header'?: (_conclave_v1_StageHeader__Output | null);
  'chunk'?: (_conclave_v1_TensorChunk__Output | null);
  'part'?: "header"|"chunk";
}
