// Original file: protocols/conclave.proto


export interface ResumeStageResponse {
  'nextChunk'?: (number);
}

export interface ResumeStageResponse__Output {
  'nextChunk': (number);
}
