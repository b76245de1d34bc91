import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FederationConfigMsg } from '../protocols/index.ts';
import { configFromMessage, configMessage, parseFederationConfig, type FederationConfigInput } from './federation-config.ts';
import { baseConfig, overTheWire, CENTRAL_DP } from './federation-config.fixture.ts';

const BASE = baseConfig({});

const DP = CENTRAL_DP;


describe('protection and aggregation in the federation config', () => {
  it('defaults: weighting by examples without DP, uniform with DP; SGD at server learning rate 1', () => {
    expect(parseFederationConfig(BASE)).toMatchObject({
      protection: { kind: 'none' },
      aggregation: { kind: 'fedavg', weighting: 'examples', serverOptimizer: { kind: 'sgd', learningRate: 1 } },
    });
    expect(parseFederationConfig({ ...BASE, privacy: DP }).aggregation).toEqual({ kind: 'fedavg', weighting: 'uniform', serverOptimizer: { kind: 'sgd', learningRate: 1 } });
    expect(parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'sgd' } } }).aggregation.serverOptimizer.learningRate).toBe(1);
    expect(parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', weighting: 'uniform', serverOptimizer: { kind: 'sgd', learningRate: 0.5 } } }).aggregation)
      .toEqual({ kind: 'fedavg', weighting: 'uniform', serverOptimizer: { kind: 'sgd', learningRate: 0.5 } });
  });

  it('reads configs stored before protection had parameters and aggregation was configurable', () => {
    const { protection: _, ...rest } = BASE;
    const stored = JSON.parse(JSON.stringify({ ...rest, protection: 'none' })) as unknown;
    expect(parseFederationConfig(stored)).toMatchObject({ protection: { kind: 'none' }, aggregation: { kind: 'fedavg', weighting: 'examples' } });
    expect(parseFederationConfig({ ...(stored as object), privacy: DP }).aggregation.weighting).toBe('uniform');
  });

  it('a parsed config, stored as JSON and parsed again, is the same config', () => {
    for (const input of [BASE, { ...BASE, privacy: DP }, { ...BASE, aggregation: { kind: 'fedavg', weighting: 'uniform', serverOptimizer: { kind: 'sgd', learningRate: 2 } } }] as FederationConfigInput[]) {
      const parsed = parseFederationConfig(input);
      expect(parseFederationConfig(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
    }
  });

  it('refuses weighting by examples under DP, saying why', () => {
    expect(() => parseFederationConfig({ ...BASE, privacy: DP, aggregation: { kind: 'fedavg', weighting: 'examples' } }))
      .toThrow(/aggregation\.weighting: .*sensitivity bound/);
  });

  it('refuses unknown kinds, bad learning rates and stray keys', () => {
    expect(() => parseFederationConfig({ ...BASE, protection: { kind: 'ckks' } })).toThrow(/protection: protection must be one of \{ kind: "none" \}, \{ kind: "secagg" \}/);
    // The bare-string form is only ever the legacy "none".
    expect(() => parseFederationConfig({ ...BASE, protection: 'secagg' })).toThrow(/protection must be one of/);
    expect(() => parseFederationConfig({ ...BASE, protection: { kind: 'none', threshold: 3 } })).toThrow(/protection/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'bulyan' } })).toThrow(/aggregation\.kind must be one of fedavg, median, trimmed-mean, krum/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'adam' } } })).toThrow(/serverOptimizer\.kind must be one of sgd/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'sgd', learningRate: 0 } } })).toThrow(/learningRate/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', weighting: 'median' } })).toThrow(/weighting/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', clip: 1 } })).toThrow(/aggregation/);
  });
});

describe('the federation config on the wire', () => {
  const aggregation = fc.option(fc.record({
    kind: fc.constant('fedavg' as const),
    weighting: fc.option(fc.constantFrom('examples' as const, 'uniform' as const), { nil: undefined }),
    serverOptimizer: fc.option(fc.record({ kind: fc.constant('sgd' as const), learningRate: fc.option(fc.double({ min: 1e-3, max: 1e3, noNaN: true }), { nil: undefined }) }), { nil: undefined }),
  }), { nil: undefined });

  it('configMessage → protobuf → configFromMessage parses to the same config', () => {
    fc.assert(fc.property(aggregation, fc.boolean(), fc.constantFrom('none' as const, { kind: 'none' as const }), (agg, dp, protection) => {
      if (dp && agg?.weighting === 'examples') return; // refused, see above
      const input: FederationConfigInput = { ...BASE, protection, aggregation: agg, privacy: dp ? DP : null };
      const msg = overTheWire(configMessage(input));
      expect(msg.protection).toBe('none'); // old clients still read the kind
      expect(parseFederationConfig(configFromMessage(msg))).toEqual(parseFederationConfig(input));
    }), { numRuns: 100 });
  });

  it('a parsed config survives the trip too (what GetFederation sends back)', () => {
    const parsed = parseFederationConfig({ ...BASE, privacy: DP, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'sgd', learningRate: 0.25 } } });
    const msg = overTheWire(configMessage(parsed));
    expect(msg.aggregation).toMatchObject({ kind: 'fedavg', fedavg: { weighting: 'uniform', serverOptimizer: { kind: 'sgd', sgd: { learningRate: 0.25 } } } });
    expect(parseFederationConfig(configFromMessage(msg))).toEqual(parsed);
  });

  it('an old client that sends only `protection = "none"` (or nothing) gets the defaults', () => {
    const { protectionConfig: _p, aggregation: _a, ...old } = configMessage(BASE);
    for (const protection of ['none', '']) {
      const msg = overTheWire({ ...old, protection } as FederationConfigMsg);
      expect(msg.protectionConfig).toBeNull();
      expect(msg.aggregation).toBeNull();
      expect(parseFederationConfig(configFromMessage(msg))).toEqual(parseFederationConfig(BASE));
    }
  });

  it('a protection or aggregation this coordinator does not know is refused, not replaced by a default', () => {
    const msg = configMessage(BASE);
    const unknownProtection = { ...msg, protection: 'secagg', protectionConfig: {} } as FederationConfigMsg;
    expect(() => parseFederationConfig(configFromMessage(overTheWire(unknownProtection)))).toThrow(/protection must be one of/);
    const unknownAggregation = { ...msg, aggregation: {} } as FederationConfigMsg;
    expect(() => parseFederationConfig(configFromMessage(overTheWire(unknownAggregation)))).toThrow(/aggregation\.kind must be one of/);
  });
});
