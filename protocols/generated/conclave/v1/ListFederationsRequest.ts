// Original file: protocols/conclave.proto


export interface ListFederationsRequest {
}

export interface ListFederationsRequest__Output {
}
