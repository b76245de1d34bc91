// Original file: protocols/conclave.proto


export interface TensorChunk {
  'index'?: (number);
  'data'?: (Buffer | Uint8Array | string);
  'sha256'?: (Buffer | Uint8Array | string);
  'padding'?: (Buffer | Uint8Array | string);
}

export interface TensorChunk__Output {
  'index': (number);
  'data': (Buffer);
  'sha256': (Buffer);
  'padding': (Buffer);
}
