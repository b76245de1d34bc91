// Original file: protocols/conclave.proto

import type { Long } from '@grpc/proto-loader';

export interface FederatedEvaluation {
  'modelVersion'?: (number);
  'examples'?: (number | string | Long);
  'sites'?: (number);
  'loss'?: (number | string);
  'accuracy'?: (number | string);
}

export interface FederatedEvaluation__Output {
  'modelVersion': (number);
  'examples': (number);
  'sites': (number);
  'loss': (number);
  'accuracy': (number);
}
