// Original file: protocols/conclave.proto


export interface RevokeSiteRequest {
  'federationId'?: (string);
  'siteId'?: (string);
}

export interface RevokeSiteRequest__Output {
  'federationId': (string);
  'siteId': (string);
}
