import { describe, expect, it } from 'vitest';
import { federationConfigFromFlags } from './federation-command.ts';
import { parseFederationConfig } from '../federation-config.ts';

const TRAINING = { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' as const };
const fromFlags = (flags: Record<string, string | boolean>) => federationConfigFromFlags(flags, { kind: 'zoo', architecture: 'mlp' }, TRAINING);

describe('federation create: aggregation flags', () => {
  it('leaves aggregation to the coordinator\'s defaults unless --weighting or --server-lr is given', () => {
    expect(fromFlags({}).aggregation).toBeUndefined();
    expect(parseFederationConfig(fromFlags({})).aggregation).toEqual({ kind: 'fedavg', weighting: 'examples', serverOptimizer: { kind: 'sgd', learningRate: 1 } });
    expect(parseFederationConfig(fromFlags({ weighting: 'uniform', 'server-lr': '0.5' })).aggregation)
      .toEqual({ kind: 'fedavg', weighting: 'uniform', serverOptimizer: { kind: 'sgd', learningRate: 0.5 } });
    // With DP and only --server-lr, the weighting still defaults to uniform.
    expect(parseFederationConfig(fromFlags({ 'server-lr': '2', dp: 'central', 'noise-multiplier': '1', clip: '1' })).aggregation.weighting).toBe('uniform');
  });

  it('refuses bad values, and --weighting examples with DP', () => {
    expect(() => fromFlags({ weighting: 'median' })).toThrow(/--weighting must be one of examples, uniform/);
    expect(() => fromFlags({ 'server-lr': '0' })).toThrow(/--server-lr must be/);
    expect(() => parseFederationConfig(fromFlags({ weighting: 'examples', dp: 'central', 'noise-multiplier': '1', clip: '1' }))).toThrow(/sensitivity bound/);
  });
});
