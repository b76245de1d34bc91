import { describe, expect, it } from 'vitest';
import { federationConfigFromFlags } from '../../coordinator/cli/federation-command.ts';
import { parseFederationConfig } from '../../coordinator/federation-config.ts';

const TRAINING = { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' as const };
const parsed = (flags: Record<string, string | boolean>) =>
  parseFederationConfig(federationConfigFromFlags({ 'sites-per-round': '10', ...flags }, { kind: 'zoo', architecture: 'mlp' }, TRAINING)).aggregation;

describe('--strategy and its flags', () => {
  it('map each strategy to its aggregator and server optimizer', () => {
    expect(parsed({ strategy: 'fedavg' })).toEqual({ kind: 'fedavg', weighting: 'examples', serverOptimizer: { kind: 'sgd', learningRate: 1 } });
    expect(parsed({ strategy: 'fedavgm', 'server-lr': '0.5', 'server-momentum': '0' }))
      .toMatchObject({ kind: 'fedavg', serverOptimizer: { kind: 'fedavgm', learningRate: 0.5, momentum: 0 } });
    expect(parsed({ strategy: 'fedadam', beta2: '0.9', tau: '1e-4' }))
      .toMatchObject({ serverOptimizer: { kind: 'fedadam', learningRate: 0.01, beta1: 0.9, beta2: 0.9, tau: 1e-4 } });
    expect(parsed({ strategy: 'fedyogi' })).toMatchObject({ serverOptimizer: { kind: 'fedyogi' } });
    expect(parsed({ strategy: 'fedadagrad', beta1: '0' })).toMatchObject({ serverOptimizer: { kind: 'fedadagrad', beta1: 0 } });
    expect(parsed({ strategy: 'median' })).toMatchObject({ kind: 'median', serverOptimizer: { kind: 'sgd', learningRate: 1 } });
    expect(parsed({ strategy: 'trimmed-mean', 'trim-ratio': '0.2' })).toMatchObject({ kind: 'trimmed-mean', trimRatio: 0.2 });
    expect(parsed({ strategy: 'krum', 'krum-byzantine': '2', 'krum-select': '3' })).toMatchObject({ kind: 'krum', byzantine: 2, select: 3 });
  });

  it('refuse an unknown strategy, a flag the strategy does not read, out-of-range values, and robust strategies under DP', () => {
    expect(() => parsed({ strategy: 'fedbogus' })).toThrow(/--strategy must be one of fedavg, fedavgm, fedadam/);
    expect(() => parsed({ strategy: 'fedadam', 'trim-ratio': '0.1' })).toThrow(/--trim-ratio does not apply to --strategy fedadam/);
    expect(() => parsed({ strategy: 'median', weighting: 'examples' })).toThrow(/--weighting does not apply to --strategy median/);
    expect(() => parsed({ 'krum-select': '2' })).toThrow(/--krum-select does not apply to --strategy fedavg/);
    expect(() => parsed({ strategy: 'trimmed-mean', 'trim-ratio': '0.5' })).toThrow(/--trim-ratio must be a number in \[0, 0.5\)/);
    expect(() => parsed({ strategy: 'fedadam', beta1: '1' })).toThrow(/--beta1 must be a number in \[0, 1\)/);
    expect(() => parsed({ strategy: 'fedavgm', 'server-lr': '-1' })).toThrow(/--server-lr must be/);
    expect(() => parsed({ strategy: 'krum', 'krum-byzantine': '1.5' })).toThrow(/--krum-byzantine must be an integer/);
    expect(() => parsed({ strategy: 'krum', 'krum-byzantine': '4' })).toThrow(/needs at least 11 updates/);
    expect(() => parsed({ strategy: 'median', dp: 'central', 'noise-multiplier': '1', clip: '1' })).toThrow(/cannot run under it/);
  });
});
