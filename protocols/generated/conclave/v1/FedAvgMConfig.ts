// Original file: protocols/conclave.proto


export interface FedAvgMConfig {
  'learningRate'?: (number | string);
  'momentum'?: (number | string);
  '_learningRate'?: "learningRate";
  '_momentum'?: "momentum";
}

export interface FedAvgMConfig__Output {
  'learningRate'?: (number);
  'momentum'?: (number);
  '_learningRate'?: "learningRate";
  '_momentum'?: "momentum";
}
