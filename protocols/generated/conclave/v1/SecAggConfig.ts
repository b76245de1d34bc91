// Original file: protocols/conclave.proto


export interface SecAggConfig {
  'maxDropout'?: (number | string);
  'colluders'?: (number);
  'clipNorm'?: (number | string);
  'neighbours'?: (number);
  'threshold'?: (number);
  'stageDeadlineMs'?: (number);
  '_maxDropout'?: "maxDropout";
}

export interface SecAggConfig__Output {
  'maxDropout'?: (number);
  'colluders': (number);
  'clipNorm': (number);
  'neighbours': (number);
  'threshold': (number);
  'stageDeadlineMs': (number);
  '_maxDropout'?: "maxDropout";
}
