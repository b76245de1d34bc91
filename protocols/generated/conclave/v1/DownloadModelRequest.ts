// Original file: protocols/conclave.proto


export interface DownloadModelRequest {
  'federationId'?: (string);
  'version'?: (number);
  'latest'?: (boolean);
}

export interface DownloadModelRequest__Output {
  'federationId': (string);
  'version': (number);
  'latest': (boolean);
}
