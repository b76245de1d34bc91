// Original file: protocols/conclave.proto


export interface DpPlan {
  'mode'?: (string);
  'clipNorm'?: (number | string);
  'siteNoiseStd'?: (number | string);
  'reportUnclipped'?: (boolean);
  'noiseMultiplier'?: (number | string);
  'sampleRate'?: (number | string);
  'delta'?: (number | string);
  'granularity'?: (number | string);
  'beta'?: (number | string);
  'chargedClients'?: (number);
}

export interface DpPlan__Output {
  'mode': (string);
  'clipNorm': (number);
  'siteNoiseStd': (number);
  'reportUnclipped': (boolean);
  'noiseMultiplier': (number);
  'sampleRate': (number);
  'delta': (number);
  'granularity': (number);
  'beta': (number);
  'chargedClients': (number);
}
