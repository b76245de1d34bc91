// Original file: protocols/conclave.proto

import type { Round as _conclave_v1_Round, Round__Output as _conclave_v1_Round__Output } from '../../conclave/v1/Round.ts';

export interface ListRoundsResponse {
  'rounds'?: (_conclave_v1_Round)[];
}

export interface ListRoundsResponse__Output {
  'rounds': (_conclave_v1_Round__Output)[];
}
