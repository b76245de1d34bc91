// Original file: protocols/conclave.proto

import type { Long } from '@grpc/proto-loader';

export interface EnrollSiteRequest {
  'federationId'?: (string);
  'siteName'?: (string);
  'tokenTtlS'?: (number);
  'budgetEpsilon'?: (number | string);
  'sampleRate'?: (number | string);
  'maxExamples'?: (number | string | Long);
}

export interface EnrollSiteRequest__Output {
  'federationId': (string);
  'siteName': (string);
  'tokenTtlS': (number);
  'budgetEpsilon': (number);
  'sampleRate': (number);
  'maxExamples': (number);
}
