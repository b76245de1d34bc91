// Original file: protocols/conclave.proto


export interface GetTaskRequest {
  'waitMs'?: (number);
}

export interface GetTaskRequest__Output {
  'waitMs': (number);
}
