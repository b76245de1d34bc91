import { describe, expect, it } from 'vitest';
import { federationConfigFromFlags } from './federation-command.ts';
import { describeSecAggChoice, secAggChoice } from './secagg-flags.ts';
import { parseFederationConfig } from '../federation-config.ts';

const TRAINING = { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' as const };
const fromFlags = (flags: Record<string, string | boolean>) => federationConfigFromFlags(flags, { kind: 'zoo', architecture: 'mlp' }, TRAINING);

describe('federation create --protection secagg', () => {
  it('builds the secagg config from its flags, leaving the rest to the schema\'s defaults', () => {
    expect(parseFederationConfig(fromFlags({ protection: 'secagg', 'sites-per-round': '10' })).protection)
      .toEqual({ kind: 'secagg', maxDropout: 0.3, colluders: 0, stageDeadlineMs: 30_000 });
    expect(parseFederationConfig(fromFlags({
      protection: 'secagg', 'sites-per-round': '12', 'max-dropout': '0.1', colluders: '2', 'secagg-clip': '5', neighbours: '8', threshold: '6', 'stage-deadline-ms': '5000',
    })).protection).toEqual({ kind: 'secagg', maxDropout: 0.1, colluders: 2, clipNorm: 5, neighbours: 8, threshold: 6, stageDeadlineMs: 5000 });
  });

  it('refuses secagg flags without --protection secagg, half a k/t pair, and bad values', () => {
    expect(() => fromFlags({ 'max-dropout': '0.2' })).toThrow(/--max-dropout needs --protection secagg/);
    expect(() => fromFlags({ protection: 'secagg', neighbours: '4' })).toThrow(/both --neighbours and --threshold/);
    expect(() => fromFlags({ protection: 'secagg', 'max-dropout': '1' })).toThrow(/--max-dropout must be a number in \[0, 1\)/);
    expect(() => fromFlags({ protection: 'ckks' })).toThrow(/--protection must be one of none, secagg/);
    expect(() => parseFederationConfig(fromFlags({ protection: 'secagg', 'sites-per-round': '10', strategy: 'median' }))).toThrow(/only ever yields their sum/);
  });

  it('says which k and t a full round gets and how likely it is to abort', () => {
    const choice = secAggChoice(fromFlags({ protection: 'secagg', 'sites-per-round': '10' }))!;
    expect(choice).toMatchObject({ sites: 10, k: 9, t: 5, meetsTarget: false });
    expect(describeSecAggChoice(choice)).toMatch(/k = 9, t = 5 \(every site shares keys with every other\); P\[round aborts\] <= 1\.50e-1 \(above the 1e-3 target/);
    expect(secAggChoice(fromFlags({ 'sites-per-round': '10' }))).toBeNull();
    const pinned = secAggChoice(fromFlags({ protection: 'secagg', 'sites-per-round': '10', neighbours: '4', threshold: '3' }))!;
    expect(describeSecAggChoice(pinned)).toMatch(/k = 4, t = 3 \(each site shares keys with 4 of the 10\)/);
  });
});
