// Original file: protocols/conclave.proto


export interface ListModelsRequest {
  'federationId'?: (string);
}

export interface ListModelsRequest__Output {
  'federationId': (string);
}
