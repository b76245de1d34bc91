import { describe, expect, it } from 'vitest';
import { federationConfigFromFlags } from '../../coordinator/cli/federation-command.ts';
import { roundExtrasFromFlags } from '../../coordinator/cli/round-flags.ts';
import { configFromMessage, configMessage, parseFederationConfig, type FederationConfigInput } from '../../coordinator/federation-config.ts';

const TRAINING = { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' as const };
const config = (flags: Record<string, string | boolean>) =>
  parseFederationConfig(federationConfigFromFlags({ 'sites-per-round': '4', ...flags }, { kind: 'zoo', architecture: 'mlp' }, TRAINING));
const DP = { dp: 'central', 'noise-multiplier': '1', clip: '1' };

describe('--strategy fedprox, --eval-every and --compress', () => {
  it('map to the federation config, and survive the wire', () => {
    expect(config({ strategy: 'fedprox' }).training.proxMu).toBe(0.01);
    expect(config({ strategy: 'fedprox', 'prox-mu': '0.5' })).toMatchObject({ training: { proxMu: 0.5 }, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'sgd' } } });
    expect(config({}).training.proxMu).toBe(0);
    expect(config({ 'eval-every': '2' }).evaluation).toEqual({ everyRounds: 2 });
    expect(config({}).evaluation).toEqual({ everyRounds: 0 });
    expect(config({ compress: 'q8' }).compression).toEqual({ kind: 'q8' });
    expect(config({ compress: 'topk' }).compression).toEqual({ kind: 'topk', ratio: 0.1 });
    expect(config({ compress: 'topk', 'topk-ratio': '0.01' }).compression).toEqual({ kind: 'topk', ratio: 0.01 });
    expect(config({}).compression).toEqual({ kind: 'none' });
    for (const flags of [{ strategy: 'fedprox', 'prox-mu': '2', 'eval-every': '3', compress: 'topk', 'topk-ratio': '0.2' }, { compress: 'q8' }, {}]) {
      const input = federationConfigFromFlags({ 'sites-per-round': '4', ...flags }, { kind: 'zoo', architecture: 'mlp' }, TRAINING);
      expect(parseFederationConfig(configFromMessage(configMessage(input)))).toEqual(parseFederationConfig(input));
    }
  });

  it('refuse an out-of-range μ or ratio, flags without their option, and compression or evaluation with DP or protection', () => {
    expect(() => config({ strategy: 'fedprox', 'prox-mu': '-1' })).toThrow(/--prox-mu must be a number in \[0, 100\]/);
    expect(() => config({ strategy: 'fedprox', 'prox-mu': '101' })).toThrow(/--prox-mu must be a number in \[0, 100\]/);
    expect(() => config({ strategy: 'fedprox', 'prox-mu': 'x' })).toThrow(/--prox-mu/);
    expect(() => config({ 'prox-mu': '0.1' })).toThrow(/--prox-mu does not apply to --strategy fedavg/);
    expect(() => config({ strategy: 'fedavgm', 'prox-mu': '0.1' })).toThrow(/--prox-mu does not apply to --strategy fedavgm/);
    expect(() => config({ strategy: 'fedprax' })).toThrow(/--strategy must be one of .*fedprox/);
    // lr 0.5 · μ 4 = 2: plain SGD on the proximal term would not contract.
    expect(() => config({ strategy: 'fedprox', 'prox-mu': '4', lr: '0.5' })).toThrow(/proxMu × learningRate must be below 2 with sgd/);
    expect(config({ strategy: 'fedprox', 'prox-mu': '4', lr: '0.5', optimizer: 'adam' }).training.proxMu).toBe(4);
    expect(() => config({ compress: 'zip' })).toThrow(/--compress must be one of none, q8, topk/);
    expect(() => config({ compress: 'topk', 'topk-ratio': '0' })).toThrow(/--topk-ratio must be a number in \(0, 1\]/);
    expect(() => config({ compress: 'topk', 'topk-ratio': '1.5' })).toThrow(/--topk-ratio must be a number in \(0, 1\]/);
    expect(() => config({ compress: 'q8', 'topk-ratio': '0.1' })).toThrow(/--topk-ratio needs --compress topk/);
    expect(() => config({ 'eval-every': '-1' })).toThrow(/--eval-every/);
    expect(() => config({ ...DP, compress: 'q8' })).toThrow(/--compress q8 cannot be used with --dp/);
    expect(() => config({ ...DP, 'eval-every': '1' })).toThrow(/--eval-every cannot be used with --dp/);
    expect(config({ ...DP, 'eval-every': '0' }).evaluation).toEqual({ everyRounds: 0 });
    expect(() => roundExtrasFromFlags({ protection: 'secagg', compress: 'topk' })).toThrow(/--compress topk needs --protection none/);
    expect(() => roundExtrasFromFlags({ protection: 'he', compress: 'q8' })).toThrow(/--compress q8 needs --protection none/);
  });

  it('the config schema refuses the same combinations, whoever sends the config', () => {
    const base = {
      name: 'f', model: 'mlp', rounds: 1, sitesPerRound: 4, minSites: 4, roundDeadlineMs: 1000, seed: 1, protection: { kind: 'none' },
      training: TRAINING, privacy: null,
    } satisfies FederationConfigInput;
    const privacy = { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5 } as const;
    expect(() => parseFederationConfig({ ...base, privacy, evaluation: { everyRounds: 1 } })).toThrow(/federated evaluation cannot run under differential privacy/);
    expect(() => parseFederationConfig({ ...base, privacy, compression: { kind: 'q8' } })).toThrow(/update compression cannot run under differential privacy/);
    expect(() => parseFederationConfig({ ...base, compression: { kind: 'topk', ratio: 0 } })).toThrow(/compression.ratio: must be in \(0, 1\]/);
    expect(() => parseFederationConfig({ ...base, compression: { kind: 'gzip' } })).toThrow(/compression.kind must be one of none, q8, topk/);
    expect(() => parseFederationConfig({ ...base, training: { ...TRAINING, proxMu: -0.1 } })).toThrow(/training.proxMu/);
    expect(() => parseFederationConfig({ ...base, evaluation: { everyRounds: 1.5 } })).toThrow(/evaluation.everyRounds/);
  });
});
