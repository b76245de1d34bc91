// Original file: protocols/conclave.proto


export interface ListRoundsRequest {
  'federationId'?: (string);
}

export interface ListRoundsRequest__Output {
  'federationId': (string);
}
