// Original file: protocols/conclave.proto

import type { FederationConfig as _conclave_v1_FederationConfig, FederationConfig__Output as _conclave_v1_FederationConfig__Output } from '../../conclave/v1/FederationConfig.ts';
import type { TensorHeader as _conclave_v1_TensorHeader, TensorHeader__Output as _conclave_v1_TensorHeader__Output } from '../../conclave/v1/TensorHeader.ts';

export interface CreateFederationHeader {
  'config'?: (_conclave_v1_FederationConfig | null);
  'topologyJson'?: (string);
  'tensor'?: (_conclave_v1_TensorHeader | null);
}

export interface CreateFederationHeader__Output {
  'config': (_conclave_v1_FederationConfig__Output | null);
  'topologyJson': (string);
  'tensor': (_conclave_v1_TensorHeader__Output | null);
}
