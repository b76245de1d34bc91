// Original file: protocols/conclave.proto


export interface RevokeSiteResponse {
  'revoked'?: (boolean);
}

export interface RevokeSiteResponse__Output {
  'revoked': (boolean);
}
