// Original file: protocols/conclave.proto

import type { EpsilonReport as _conclave_v1_EpsilonReport, EpsilonReport__Output as _conclave_v1_EpsilonReport__Output } from '../../conclave/v1/EpsilonReport.ts';

export interface ParticipantPrivacy {
  'siteId'?: (string);
  'siteName'?: (string);
  'epsilon'?: (_conclave_v1_EpsilonReport | null);
  'roundsEligible'?: (number);
  'sampleRate'?: (number | string);
}

export interface ParticipantPrivacy__Output {
  'siteId': (string);
  'siteName': (string);
  'epsilon': (_conclave_v1_EpsilonReport__Output | null);
  'roundsEligible': (number);
  'sampleRate': (number);
}
