// Original file: protocols/conclave.proto

import type { ModelHeader as _conclave_v1_ModelHeader, ModelHeader__Output as _conclave_v1_ModelHeader__Output } from '../../conclave/v1/ModelHeader.ts';
import type { TensorChunk as _conclave_v1_TensorChunk, TensorChunk__Output as _conclave_v1_TensorChunk__Output } from '../../conclave/v1/TensorChunk.ts';

export interface ModelStreamMessage {
  'header'?: (_conclave_v1_ModelHeader | null);
  'chunk'?: (_conclave_v1_TensorChunk | null);
  'part'?: "header"|"chunk";
}

export interface ModelStreamMessage__Output {
  'header'?: (_conclave_v1_ModelHeader__Output | null);
  'chunk'?: (_conclave_v1_TensorChunk__Output | null);
  'part'?: "header"|"chunk";
}
