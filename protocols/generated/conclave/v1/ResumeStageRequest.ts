// Original file: protocols/conclave.proto


export interface ResumeStageRequest {
  'roundId'?: (string);
  'stage'?: (string);
  'tensorSha256'?: (Buffer | Uint8Array | string);
}

export interface ResumeStageRequest__Output {
  'roundId': (string);
  'stage': (string);
  'tensorSha256': (Buffer);
}
