// Original file: protocols/conclave.proto


export interface UpdateCompression {
  'kind'?: (string);
  'topkRatio'?: (number | string);
}

export interface UpdateCompression__Output {
  'kind': (string);
  'topkRatio': (number);
}
