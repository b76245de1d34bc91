// Original file: protocols/conclave.proto

import type { FeatureScaling as _conclave_v1_FeatureScaling, FeatureScaling__Output as _conclave_v1_FeatureScaling__Output } from '../../conclave/v1/FeatureScaling.ts';

export interface DataSpec {
  'classes'?: (string)[];
  'scaling'?: (_conclave_v1_FeatureScaling | null);
  'features'?: (string)[];
}

export interface DataSpec__Output {
  'classes': (string)[];
  'scaling': (_conclave_v1_FeatureScaling__Output | null);
  'features': (string)[];
}
