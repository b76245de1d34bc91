// Original file: protocols/conclave.proto


export interface GetLedgerRequest {
  'federationId'?: (string);
}

export interface GetLedgerRequest__Output {
  'federationId': (string);
}
