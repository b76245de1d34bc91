// Original file: protocols/conclave.proto

import type { FederatedEvaluation as _conclave_v1_FederatedEvaluation, FederatedEvaluation__Output as _conclave_v1_FederatedEvaluation__Output } from '../../conclave/v1/FederatedEvaluation.ts';
import type { Long } from '@grpc/proto-loader';

export interface Round {
  'id'?: (string);
  'federationId'?: (string);
  'number'?: (number);
  'state'?: (string);
  'baseVersion'?: (number);
  'resultVersion'?: (number);
  'selectedSites'?: (string)[];
  'submittedSites'?: (string)[];
  'abortReason'?: (string);
  'openedUnixMs'?: (number | string | Long);
  'closedUnixMs'?: (number | string | Long);
  'totalExamples'?: (number | string | Long);
  'stage'?: (string);
  'federatedEvaluation'?: (_conclave_v1_FederatedEvaluation | null);
  'clippedUpdates'?: (number);
  'cappedWeights'?: (number);
  'refusedUpdates'?: (number);
  'stageDeadlineUnixMs'?: (number | string | Long);
  'stageExpected'?: (number);
  'stageAnswered'?: (number);
  'bytesReceived'?: (number | string | Long);
}

export interface Round__Output {
  'id': (string);
  'federationId': (string);
  'number': (number);
  'state': (string);
  'baseVersion': (number);
  'resultVersion': (number);
  'selectedSites': (string)[];
  'submittedSites': (string)[];
  'abortReason': (string);
  'openedUnixMs': (number);
  'closedUnixMs': (number);
  'totalExamples': (number);
  'stage': (string);
  'federatedEvaluation': (_conclave_v1_FederatedEvaluation__Output | null);
  'clippedUpdates': (number);
  'cappedWeights': (number);
  'refusedUpdates': (number);
  'stageDeadlineUnixMs': (number);
  'stageExpected': (number);
  'stageAnswered': (number);
  'bytesReceived': (number);
}
