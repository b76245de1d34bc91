// Original file: protocols/conclave.proto


export interface EnrollSiteRequest {
  'federationId'?: (string);
  'siteName'?: (string);
  'tokenTtlS'?: (number);
  'budgetEpsilon'?: (number | string);
  'sampleRate'?: (number | string);
}

export interface EnrollSiteRequest__Output {
  'federationId': (string);
  'siteName': (string);
  'tokenTtlS': (number);
  'budgetEpsilon': (number);
  'sampleRate': (number);
}
