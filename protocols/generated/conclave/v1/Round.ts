// Original file: protocols/conclave.proto

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
  'stageDeadlineUnixMs': (number);
  'stageExpected': (number);
  'stageAnswered': (number);
  'bytesReceived': (number);
}
