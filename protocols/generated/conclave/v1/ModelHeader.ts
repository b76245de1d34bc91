// Original file: protocols/conclave.proto

import type { TensorHeader as _conclave_v1_TensorHeader, TensorHeader__Output as _conclave_v1_TensorHeader__Output } from '../../conclave/v1/TensorHeader.ts';

export interface ModelHeader {
  'federationId'?: (string);
  'version'?: (number);
  'topologyJson'?: (string);
  'tensor'?: (_conclave_v1_TensorHeader | null);
}

export interface ModelHeader__Output {
  'federationId': (string);
  'version': (number);
  'topologyJson': (string);
  'tensor': (_conclave_v1_TensorHeader__Output | null);
}
