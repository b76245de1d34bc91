// Original file: protocols/conclave.proto


export interface SubmitStageResponse {
  'roundId'?: (string);
  'stage'?: (string);
  'received'?: (number);
}

export interface SubmitStageResponse__Output {
  'roundId': (string);
  'stage': (string);
  'received': (number);
}
