// Original file: protocols/conclave.proto


export interface LedgerEntry {
  'seq'?: (number);
  'payloadJson'?: (string);
  'hash'?: (string);
  'jws'?: (string);
}

export interface LedgerEntry__Output {
  'seq': (number);
  'payloadJson': (string);
  'hash': (string);
  'jws': (string);
}
