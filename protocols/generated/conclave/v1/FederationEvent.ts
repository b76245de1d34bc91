// Original file: protocols/conclave.proto

import type { Round as _conclave_v1_Round, Round__Output as _conclave_v1_Round__Output } from '../../conclave/v1/Round.ts';
import type { Federation as _conclave_v1_Federation, Federation__Output as _conclave_v1_Federation__Output } from '../../conclave/v1/Federation.ts';

export interface FederationEvent {
  'round'?: (_conclave_v1_Round | null);
  'federation'?: (_conclave_v1_Federation | null);
}

export interface FederationEvent__Output {
  'round': (_conclave_v1_Round__Output | null);
  'federation': (_conclave_v1_Federation__Output | null);
}
