// Original file: protocols/conclave.proto


export interface PrivacyConfig {
  'mode'?: (string);
  'noiseMultiplier'?: (number | string);
  'clipNorm'?: (number | string);
  'sampleRate'?: (number | string);
  'adaptiveClip'?: (boolean);
  'targetQuantile'?: (number | string);
  'clipLearningRate'?: (number | string);
  'countNoiseStd'?: (number | string);
  'budgetEpsilon'?: (number | string);
  'delta'?: (number | string);
  'localEpsilon'?: (number | string);
}

export interface PrivacyConfig__Output {
  'mode': (string);
  'noiseMultiplier': (number);
  'clipNorm': (number);
  'sampleRate': (number);
  'adaptiveClip': (boolean);
  'targetQuantile': (number);
  'clipLearningRate': (number);
  'countNoiseStd': (number);
  'budgetEpsilon': (number);
  'delta': (number);
  'localEpsilon': (number);
}
