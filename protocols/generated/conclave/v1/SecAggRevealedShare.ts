// Original file: protocols/conclave.proto


export interface SecAggRevealedShare {
  'owner'?: (number);
  'maskKey'?: (boolean);
  'share'?: (Buffer | Uint8Array | string);
}

export interface SecAggRevealedShare__Output {
  'owner': (number);
  'maskKey': (boolean);
  'share': (Buffer);
}
