// Original file: protocols/conclave.proto

import type { CreateFederationHeader as _conclave_v1_CreateFederationHeader, CreateFederationHeader__Output as _conclave_v1_CreateFederationHeader__Output } from '../../conclave/v1/CreateFederationHeader.ts';
import type { TensorChunk as _conclave_v1_TensorChunk, TensorChunk__Output as _conclave_v1_TensorChunk__Output } from '../../conclave/v1/TensorChunk.ts';

export interface CreateFederationMessage {
  'header'?: (_conclave_v1_CreateFederationHeader | null);
  'chunk'?: (_conclave_v1_TensorChunk | null);
  'part'?: "header"|"chunk";
}

export interface CreateFederationMessage__Output {
  'header'?: (_conclave_v1_CreateFederationHeader__Output | null);
  'chunk'?: (_conclave_v1_TensorChunk__Output | null);
  'part'?: "header"|"chunk";
}
