// Original file: protocols/conclave.proto


export interface SecAggParams {
  'sites'?: (number);
  'neighbours'?: (number);
  'threshold'?: (number);
  'graphSeed'?: (Buffer | Uint8Array | string);
  'clip'?: (number | string);
  'scale'?: (number | string);
  'maxSites'?: (number);
  'vectorLength'?: (number);
}

export interface SecAggParams__Output {
  'sites': (number);
  'neighbours': (number);
  'threshold': (number);
  'graphSeed': (Buffer);
  'clip': (number);
  'scale': (number);
  'maxSites': (number);
  'vectorLength': (number);
}
