// Original file: protocols/conclave.proto

import type { TrainingConfig as _conclave_v1_TrainingConfig, TrainingConfig__Output as _conclave_v1_TrainingConfig__Output } from '../../conclave/v1/TrainingConfig.ts';
import type { PrivacyConfig as _conclave_v1_PrivacyConfig, PrivacyConfig__Output as _conclave_v1_PrivacyConfig__Output } from '../../conclave/v1/PrivacyConfig.ts';
import type { ProtectionConfig as _conclave_v1_ProtectionConfig, ProtectionConfig__Output as _conclave_v1_ProtectionConfig__Output } from '../../conclave/v1/ProtectionConfig.ts';
import type { AggregationConfig as _conclave_v1_AggregationConfig, AggregationConfig__Output as _conclave_v1_AggregationConfig__Output } from '../../conclave/v1/AggregationConfig.ts';
import type { UpdateCompression as _conclave_v1_UpdateCompression, UpdateCompression__Output as _conclave_v1_UpdateCompression__Output } from '../../conclave/v1/UpdateCompression.ts';
import type { DataSpec as _conclave_v1_DataSpec, DataSpec__Output as _conclave_v1_DataSpec__Output } from '../../conclave/v1/DataSpec.ts';
import type { Long } from '@grpc/proto-loader';

export interface FederationConfig {
  'name'?: (string);
  'model'?: (string);
  'rounds'?: (number);
  'sitesPerRound'?: (number);
  'minSites'?: (number);
  'roundDeadlineMs'?: (number);
  'training'?: (_conclave_v1_TrainingConfig | null);
  'seed'?: (number | string | Long);
  'protection'?: (string);
  'privacy'?: (_conclave_v1_PrivacyConfig | null);
  'protectionConfig'?: (_conclave_v1_ProtectionConfig | null);
  'aggregation'?: (_conclave_v1_AggregationConfig | null);
  'evalEveryRounds'?: (number);
  'compression'?: (_conclave_v1_UpdateCompression | null);
  'data'?: (_conclave_v1_DataSpec | null);
}

export interface FederationConfig__Output {
  'name': (string);
  'model': (string);
  'rounds': (number);
  'sitesPerRound': (number);
  'minSites': (number);
  'roundDeadlineMs': (number);
  'training': (_conclave_v1_TrainingConfig__Output | null);
  'seed': (number);
  'protection': (string);
  'privacy': (_conclave_v1_PrivacyConfig__Output | null);
  'protectionConfig': (_conclave_v1_ProtectionConfig__Output | null);
  'aggregation': (_conclave_v1_AggregationConfig__Output | null);
  'evalEveryRounds': (number);
  'compression': (_conclave_v1_UpdateCompression__Output | null);
  'data': (_conclave_v1_DataSpec__Output | null);
}
