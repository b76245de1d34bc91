// Original file: protocols/conclave.proto


export interface RollbackModelRequest {
  'federationId'?: (string);
  'version'?: (number);
}

export interface RollbackModelRequest__Output {
  'federationId': (string);
  'version': (number);
}
