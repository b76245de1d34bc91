// Original file: protocols/conclave.proto


export interface Finished {
  'reason'?: (string);
  'finalModelVersion'?: (number);
}

export interface Finished__Output {
  'reason': (string);
  'finalModelVersion': (number);
}
