// Original file: protocols/conclave.proto

import type { SecAggKeys as _conclave_v1_SecAggKeys, SecAggKeys__Output as _conclave_v1_SecAggKeys__Output } from '../../conclave/v1/SecAggKeys.ts';

export interface SecAggPeer {
  'index'?: (number);
  'keys'?: (_conclave_v1_SecAggKeys | null);
  'siteId'?: (string);
}

export interface SecAggPeer__Output {
  'index': (number);
  'keys': (_conclave_v1_SecAggKeys__Output | null);
  'siteId': (string);
}
