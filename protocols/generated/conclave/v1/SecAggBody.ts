// Original file: protocols/conclave.proto

import type { SecAggKeys as _conclave_v1_SecAggKeys, SecAggKeys__Output as _conclave_v1_SecAggKeys__Output } from '../../conclave/v1/SecAggKeys.ts';
import type { SecAggSealedShare as _conclave_v1_SecAggSealedShare, SecAggSealedShare__Output as _conclave_v1_SecAggSealedShare__Output } from '../../conclave/v1/SecAggSealedShare.ts';
import type { SecAggRevealedShare as _conclave_v1_SecAggRevealedShare, SecAggRevealedShare__Output as _conclave_v1_SecAggRevealedShare__Output } from '../../conclave/v1/SecAggRevealedShare.ts';

export interface SecAggBody {
  'keys'?: (_conclave_v1_SecAggKeys | null);
  'shares'?: (_conclave_v1_SecAggSealedShare)[];
  'revealed'?: (_conclave_v1_SecAggRevealedShare)[];
}

export interface SecAggBody__Output {
  'keys': (_conclave_v1_SecAggKeys__Output | null);
  'shares': (_conclave_v1_SecAggSealedShare__Output)[];
  'revealed': (_conclave_v1_SecAggRevealedShare__Output)[];
}
