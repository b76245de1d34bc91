// Original file: protocols/conclave.proto


export interface Wait {
  'retryAfterMs'?: (number);
  'reason'?: (string);
}

export interface Wait__Output {
  'retryAfterMs': (number);
  'reason': (string);
}
