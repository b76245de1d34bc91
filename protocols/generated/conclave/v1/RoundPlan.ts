// Original file: protocols/conclave.proto

import type { TrainingConfig as _conclave_v1_TrainingConfig, TrainingConfig__Output as _conclave_v1_TrainingConfig__Output } from '../../conclave/v1/TrainingConfig.ts';
import type { DpPlan as _conclave_v1_DpPlan, DpPlan__Output as _conclave_v1_DpPlan__Output } from '../../conclave/v1/DpPlan.ts';
import type { ProtectionPlan as _conclave_v1_ProtectionPlan, ProtectionPlan__Output as _conclave_v1_ProtectionPlan__Output } from '../../conclave/v1/ProtectionPlan.ts';
import type { UpdateCompression as _conclave_v1_UpdateCompression, UpdateCompression__Output as _conclave_v1_UpdateCompression__Output } from '../../conclave/v1/UpdateCompression.ts';
import type { DataSpec as _conclave_v1_DataSpec, DataSpec__Output as _conclave_v1_DataSpec__Output } from '../../conclave/v1/DataSpec.ts';
import type { Long } from '@grpc/proto-loader';

export interface RoundPlan {
  'federationId'?: (string);
  'roundId'?: (string);
  'roundNumber'?: (number);
  'modelVersion'?: (number);
  'modelSha256'?: (Buffer | Uint8Array | string);
  'training'?: (_conclave_v1_TrainingConfig | null);
  'deadlineUnixMs'?: (number | string | Long);
  'protection'?: (string);
  'seed'?: (number | string | Long);
  'dp'?: (_conclave_v1_DpPlan | null);
  'protectionPlan'?: (_conclave_v1_ProtectionPlan | null);
  'evaluate'?: (boolean);
  'compression'?: (_conclave_v1_UpdateCompression | null);
  'data'?: (_conclave_v1_DataSpec | null);
}

export interface RoundPlan__Output {
  'federationId': (string);
  'roundId': (string);
  'roundNumber': (number);
  'modelVersion': (number);
  'modelSha256': (Buffer);
  'training': (_conclave_v1_TrainingConfig__Output | null);
  'deadlineUnixMs': (number);
  'protection': (string);
  'seed': (number);
  'dp': (_conclave_v1_DpPlan__Output | null);
  'protectionPlan': (_conclave_v1_ProtectionPlan__Output | null);
  'evaluate': (boolean);
  'compression': (_conclave_v1_UpdateCompression__Output | null);
  'data': (_conclave_v1_DataSpec__Output | null);
}
