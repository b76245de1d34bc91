// Original file: protocols/conclave.proto


export interface HeProtectionConfig {
  'decryptors'?: (number);
  'ciphertexts'?: (string);
}

export interface HeProtectionConfig__Output {
  'decryptors': (number);
  'ciphertexts': (string);
}
