// Original file: protocols/conclave.proto


export interface SecAggSealedShare {
  'from'?: (number);
  'to'?: (number);
  'ciphertext'?: (Buffer | Uint8Array | string);
}

export interface SecAggSealedShare__Output {
  'from': (number);
  'to': (number);
  'ciphertext': (Buffer);
}
