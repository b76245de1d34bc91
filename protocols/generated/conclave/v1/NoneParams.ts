// Original file: protocols/conclave.proto


export interface NoneParams {
}

export interface NoneParams__Output {
}
