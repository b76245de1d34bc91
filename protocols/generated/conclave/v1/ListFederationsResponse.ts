// Original file: protocols/conclave.proto

import type { Federation as _conclave_v1_Federation, Federation__Output as _conclave_v1_Federation__Output } from '../../conclave/v1/Federation.ts';

export interface ListFederationsResponse {
  'federations'?: (_conclave_v1_Federation)[];
}

export interface ListFederationsResponse__Output {
  'federations': (_conclave_v1_Federation__Output)[];
}
