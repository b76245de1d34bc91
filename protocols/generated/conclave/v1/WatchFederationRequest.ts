// Original file: protocols/conclave.proto


export interface WatchFederationRequest {
  'federationId'?: (string);
}

export interface WatchFederationRequest__Output {
  'federationId': (string);
}
