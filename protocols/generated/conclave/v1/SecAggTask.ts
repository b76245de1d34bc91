// Original file: protocols/conclave.proto

import type { SecAggPeer as _conclave_v1_SecAggPeer, SecAggPeer__Output as _conclave_v1_SecAggPeer__Output } from '../../conclave/v1/SecAggPeer.ts';
import type { SecAggSealedShare as _conclave_v1_SecAggSealedShare, SecAggSealedShare__Output as _conclave_v1_SecAggSealedShare__Output } from '../../conclave/v1/SecAggSealedShare.ts';

export interface SecAggTask {
  'selfIndex'?: (number);
  'peers'?: (_conclave_v1_SecAggPeer)[];
  'shares'?: (_conclave_v1_SecAggSealedShare)[];
  'survivors'?: (number)[];
  'dropped'?: (number)[];
}

export interface SecAggTask__Output {
  'selfIndex': (number);
  'peers': (_conclave_v1_SecAggPeer__Output)[];
  'shares': (_conclave_v1_SecAggSealedShare__Output)[];
  'survivors': (number)[];
  'dropped': (number)[];
}
