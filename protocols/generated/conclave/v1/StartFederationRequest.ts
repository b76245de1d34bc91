// Original file: protocols/conclave.proto


export interface StartFederationRequest {
  'federationId'?: (string);
}

export interface StartFederationRequest__Output {
  'federationId': (string);
}
