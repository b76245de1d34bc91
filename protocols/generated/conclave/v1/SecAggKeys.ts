// Original file: protocols/conclave.proto


export interface SecAggKeys {
  'encryptionPublicKey'?: (Buffer | Uint8Array | string);
  'maskPublicKey'?: (Buffer | Uint8Array | string);
  'seedCommitment'?: (Buffer | Uint8Array | string);
  'identityPublicKey'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface SecAggKeys__Output {
  'encryptionPublicKey': (Buffer);
  'maskPublicKey': (Buffer);
  'seedCommitment': (Buffer);
  'identityPublicKey': (Buffer);
  'signature': (Buffer);
}
