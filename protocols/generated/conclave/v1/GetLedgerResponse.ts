// Original file: protocols/conclave.proto

import type { EpsilonReport as _conclave_v1_EpsilonReport, EpsilonReport__Output as _conclave_v1_EpsilonReport__Output } from '../../conclave/v1/EpsilonReport.ts';
import type { ParticipantPrivacy as _conclave_v1_ParticipantPrivacy, ParticipantPrivacy__Output as _conclave_v1_ParticipantPrivacy__Output } from '../../conclave/v1/ParticipantPrivacy.ts';
import type { LedgerEntry as _conclave_v1_LedgerEntry, LedgerEntry__Output as _conclave_v1_LedgerEntry__Output } from '../../conclave/v1/LedgerEntry.ts';

export interface GetLedgerResponse {
  'federationId'?: (string);
  'delta'?: (number | string);
  'federation'?: (_conclave_v1_EpsilonReport | null);
  'participants'?: (_conclave_v1_ParticipantPrivacy)[];
  'entries'?: (_conclave_v1_LedgerEntry)[];
  'jwksJson'?: (string);
}

export interface GetLedgerResponse__Output {
  'federationId': (string);
  'delta': (number);
  'federation': (_conclave_v1_EpsilonReport__Output | null);
  'participants': (_conclave_v1_ParticipantPrivacy__Output)[];
  'entries': (_conclave_v1_LedgerEntry__Output)[];
  'jwksJson': (string);
}
