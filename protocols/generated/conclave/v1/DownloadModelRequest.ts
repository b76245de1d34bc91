// Original file: protocols/conclave.proto


export interface DownloadModelRequest {
  'federationId'?: (string);
  'version'?: (number);
  'latest'?: (boolean);
  'fromChunk'?: (number);
  'expectedSha256'?: (Buffer | Uint8Array | string);
}

export interface DownloadModelRequest__Output {
  'federationId': (string);
  'version': (number);
  'latest': (boolean);
  'fromChunk': (number);
  'expectedSha256': (Buffer);
}
