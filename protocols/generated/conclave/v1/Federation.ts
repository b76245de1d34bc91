// Original file: protocols/conclave.proto

import type { FederationConfig as _conclave_v1_FederationConfig, FederationConfig__Output as _conclave_v1_FederationConfig__Output } from '../../conclave/v1/FederationConfig.ts';
import type { Long } from '@grpc/proto-loader';

export interface Federation {
  'id'?: (string);
  'config'?: (_conclave_v1_FederationConfig | null);
  'status'?: (string);
  'latestModelVersion'?: (number);
  'committedRounds'?: (number);
  'createdUnixMs'?: (number | string | Long);
  'finishReason'?: (string);
}

export interface Federation__Output {
  'id': (string);
  'config': (_conclave_v1_FederationConfig__Output | null);
  'status': (string);
  'latestModelVersion': (number);
  'committedRounds': (number);
  'createdUnixMs': (number);
  'finishReason': (string);
}
