// Original file: protocols/conclave.proto


export interface GetFederationRequest {
  'federationId'?: (string);
}

export interface GetFederationRequest__Output {
  'federationId': (string);
}
