// Original file: protocols/conclave.proto


export interface SgdConfig {
  'learningRate'?: (number | string);
}

export interface SgdConfig__Output {
  'learningRate': (number);
}
