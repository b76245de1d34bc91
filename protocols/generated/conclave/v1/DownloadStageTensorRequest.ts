// Original file: protocols/conclave.proto


export interface DownloadStageTensorRequest {
  'roundId'?: (string);
  'stage'?: (string);
}

export interface DownloadStageTensorRequest__Output {
  'roundId': (string);
  'stage': (string);
}
