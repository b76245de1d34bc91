// Original file: protocols/conclave.proto

import type { EpsilonReport as _conclave_v1_EpsilonReport, EpsilonReport__Output as _conclave_v1_EpsilonReport__Output } from '../../conclave/v1/EpsilonReport.ts';
import type { Long } from '@grpc/proto-loader';

export interface Site {
  'siteId'?: (string);
  'name'?: (string);
  'state'?: (string);
  'enrolledUnixMs'?: (number | string | Long);
  'revokedUnixMs'?: (number | string | Long);
  'lastSeenUnixMs'?: (number | string | Long);
  'roundsParticipated'?: (number);
  'epsilon'?: (_conclave_v1_EpsilonReport | null);
  'budgetLeft'?: (number | string);
  'roundsEligible'?: (number);
  'sampleRate'?: (number | string);
}

export interface Site__Output {
  'siteId': (string);
  'name': (string);
  'state': (string);
  'enrolledUnixMs': (number);
  'revokedUnixMs': (number);
  'lastSeenUnixMs': (number);
  'roundsParticipated': (number);
  'epsilon': (_conclave_v1_EpsilonReport__Output | null);
  'budgetLeft': (number);
  'roundsEligible': (number);
  'sampleRate': (number);
}
