export * from './errors.ts';
export * from './tensor-codec.ts';
export * from './messages.ts';
export * from './grpc.ts';
export * from './transfer-heap.ts';
export * from './update-codec.ts';
