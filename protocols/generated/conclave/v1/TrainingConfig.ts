// Original file: protocols/conclave.proto


export interface TrainingConfig {
  'localEpochs'?: (number);
  'batchSize'?: (number);
  'learningRate'?: (number | string);
  'optimizer'?: (string);
  'proxMu'?: (number | string);
}

export interface TrainingConfig__Output {
  'localEpochs': (number);
  'batchSize': (number);
  'learningRate': (number);
  'optimizer': (string);
  'proxMu': (number);
}
