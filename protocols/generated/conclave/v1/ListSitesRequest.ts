// Original file: protocols/conclave.proto


export interface ListSitesRequest {
  'federationId'?: (string);
}

export interface ListSitesRequest__Output {
  'federationId': (string);
}
