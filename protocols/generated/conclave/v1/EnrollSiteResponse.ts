// Original file: protocols/conclave.proto


export interface EnrollSiteResponse {
  'siteId'?: (string);
  'token'?: (string);
}

export interface EnrollSiteResponse__Output {
  'siteId': (string);
  'token': (string);
}
