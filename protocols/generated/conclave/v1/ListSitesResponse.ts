// Original file: protocols/conclave.proto

import type { Site as _conclave_v1_Site, Site__Output as _conclave_v1_Site__Output } from '../../conclave/v1/Site.ts';

export interface ListSitesResponse {
  'federationId'?: (string);
  'delta'?: (number | string);
  'sites'?: (_conclave_v1_Site)[];
}

export interface ListSitesResponse__Output {
  'federationId': (string);
  'delta': (number);
  'sites': (_conclave_v1_Site__Output)[];
}
