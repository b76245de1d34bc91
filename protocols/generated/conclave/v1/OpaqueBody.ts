// Original file: protocols/conclave.proto


export interface OpaqueBody {
  'data'?: (Buffer | Uint8Array | string);
}

export interface OpaqueBody__Output {
  'data': (Buffer);
}
