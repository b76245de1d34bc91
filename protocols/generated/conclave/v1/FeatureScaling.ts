// Original file: protocols/conclave.proto


export interface FeatureScaling {
  'kind'?: (string);
  'min'?: (number | string)[];
  'max'?: (number | string)[];
  'mean'?: (number | string)[];
  'std'?: (number | string)[];
}

export interface FeatureScaling__Output {
  'kind': (string);
  'min': (number)[];
  'max': (number)[];
  'mean': (number)[];
  'std': (number)[];
}
