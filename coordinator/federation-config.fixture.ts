/**
 * The federation config the config tests start from, and the protobuf round trip they check it
 * through (test support: excluded from the build with the *.test.ts files).
 */
import { adminServiceDefinition, type FederationConfigMsg } from '../protocols/index.ts';
import type { FederationConfigInput } from './federation-config.ts';

export function baseConfig<T extends Partial<FederationConfigInput>>(overrides: T) {
  return {
    name: 'fed', model: 'mlp', rounds: 3, sitesPerRound: 4, minSites: 2, roundDeadlineMs: 60_000, seed: 1,
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' },
    protection: { kind: 'none' }, privacy: null,
    ...overrides,
  } satisfies FederationConfigInput;
}

export const CENTRAL_DP = {
  mode: 'central', noiseMultiplier: 1.1, localEpsilon: null, clipNorm: 1, sampleRate: 0.5, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5,
} satisfies NonNullable<FederationConfigInput['privacy']>;

/** Through protobuf and back, inside the Federation message GetFederation answers with (the same FederationConfig message a client creates with). */
export function overTheWire(msg: FederationConfigMsg): FederationConfigMsg {
  const method = adminServiceDefinition['GetFederation']!;
  return (method.responseDeserialize(method.responseSerialize({ config: msg })) as { config: FederationConfigMsg }).config;
}
