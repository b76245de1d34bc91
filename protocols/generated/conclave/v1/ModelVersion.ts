// Original file: protocols/conclave.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelVersion {
  'federationId'?: (string);
  'version'?: (number);
  'parentVersion'?: (number);
  'roundId'?: (string);
  'sha256'?: (Buffer | Uint8Array | string);
  'numParameters'?: (number | string | Long);
  'createdUnixMs'?: (number | string | Long);
  'metricsJson'?: (string);
}

export interface ModelVersion__Output {
  'federationId': (string);
  'version': (number);
  'parentVersion': (number);
  'roundId': (string);
  'sha256': (Buffer);
  'numParameters': (number);
  'createdUnixMs': (number);
  'metricsJson': (string);
}
