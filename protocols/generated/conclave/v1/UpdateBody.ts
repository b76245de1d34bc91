// Original file: protocols/conclave.proto

import type { Long } from '@grpc/proto-loader';

export interface UpdateBody {
  'numExamples'?: (number | string | Long);
  'trainLoss'?: (number | string);
  'trainAccuracy'?: (number | string);
  'unclipped'?: (boolean);
  'evalExamples'?: (number | string | Long);
  'evalLoss'?: (number | string);
  'evalAccuracy'?: (number | string);
  'encoding'?: (string);
  'q8Scales'?: (number | string)[];
}

export interface UpdateBody__Output {
  'numExamples': (number);
  'trainLoss': (number);
  'trainAccuracy': (number);
  'unclipped': (boolean);
  'evalExamples': (number);
  'evalLoss': (number);
  'evalAccuracy': (number);
  'encoding': (string);
  'q8Scales': (number)[];
}
