// Original file: protocols/conclave.proto


export interface AdaptiveOptimizerConfig {
  'learningRate'?: (number | string);
  'beta1'?: (number | string);
  'beta2'?: (number | string);
  'tau'?: (number | string);
  '_learningRate'?: "learningRate";
  '_beta1'?: "beta1";
  '_beta2'?: "beta2";
  '_tau'?: "tau";
}

export interface AdaptiveOptimizerConfig__Output {
  'learningRate'?: (number);
  'beta1'?: (number);
  'beta2'?: (number);
  'tau'?: (number);
  '_learningRate'?: "learningRate";
  '_beta1'?: "beta1";
  '_beta2'?: "beta2";
  '_tau'?: "tau";
}
