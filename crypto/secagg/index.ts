export * from './errors.ts';
export * from './keys.ts';
export * from './prg.ts';
export * from './shamir.ts';
export * from './graph.ts';
export * from './params.ts';
export * from './quantize.ts';
export * from './round.ts';
