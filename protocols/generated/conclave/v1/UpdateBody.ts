// Original file: protocols/conclave.proto

import type { Long } from '@grpc/proto-loader';

export interface UpdateBody {
  'numExamples'?: (number | string | Long);
  'trainLoss'?: (number | string);
  'trainAccuracy'?: (number | string);
  'unclipped'?: (boolean);
}

export interface UpdateBody__Output {
  'numExamples': (number);
  'trainLoss': (number);
  'trainAccuracy': (number);
  'unclipped': (boolean);
}
