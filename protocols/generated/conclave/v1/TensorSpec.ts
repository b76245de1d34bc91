// Original file: protocols/conclave.proto


export interface TensorSpec {
  'name'?: (string);
  'shape'?: (number)[];
  'dtype'?: (string);
}

export interface TensorSpec__Output {
  'name': (string);
  'shape': (number)[];
  'dtype': (string);
}
