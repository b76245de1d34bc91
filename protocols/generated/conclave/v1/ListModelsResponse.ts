// Original file: protocols/conclave.proto

import type { ModelVersion as _conclave_v1_ModelVersion, ModelVersion__Output as _conclave_v1_ModelVersion__Output } from '../../conclave/v1/ModelVersion.ts';

export interface ListModelsResponse {
  'models'?: (_conclave_v1_ModelVersion)[];
}

export interface ListModelsResponse__Output {
  'models': (_conclave_v1_ModelVersion__Output)[];
}
