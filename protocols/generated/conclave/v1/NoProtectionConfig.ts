// Original file: protocols/conclave.proto


export interface NoProtectionConfig {
}

export interface NoProtectionConfig__Output {
}
