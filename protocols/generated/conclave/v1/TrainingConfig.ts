// Original file: protocols/conclave.proto


export interface TrainingConfig {
  'localEpochs'?: (number);
  'batchSize'?: (number);
  'learningRate'?: (number | string);
  'optimizer'?: (string);
}

export interface TrainingConfig__Output {
  'localEpochs': (number);
  'batchSize': (number);
  'learningRate': (number);
  'optimizer': (string);
}
