// Original file: protocols/conclave.proto


export interface AbortRoundRequest {
  'federationId'?: (string);
  'roundId'?: (string);
  'reason'?: (string);
}

export interface AbortRoundRequest__Output {
  'federationId': (string);
  'roundId': (string);
  'reason': (string);
}
