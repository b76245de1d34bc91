import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { configFromMessage, configMessage, parseFederationConfig, type FederationConfigInput } from '../federation-config.ts';
import { aggregationFor, serverOptimizerFor } from './for-config.ts';
import { baseConfig, overTheWire, CENTRAL_DP } from '../federation-config.fixture.ts';

const BASE = baseConfig({ sitesPerRound: 7, minSites: 5 });

const DP = CENTRAL_DP;


const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const unit = fc.constantFrom(0, 0.5, 0.9, 0.999);
const serverOptimizer = maybe(fc.oneof(
  fc.record({ kind: fc.constant('sgd' as const), learningRate: maybe(fc.double({ min: 1e-3, max: 1e3, noNaN: true })) }),
  fc.record({ kind: fc.constant('fedavgm' as const), learningRate: maybe(fc.double({ min: 1e-3, max: 1e3, noNaN: true })), momentum: maybe(unit) }),
  fc.record({
    kind: fc.constantFrom('fedadam' as const, 'fedyogi' as const), learningRate: maybe(fc.double({ min: 1e-3, max: 1e3, noNaN: true })),
    beta1: maybe(unit), beta2: maybe(unit), tau: maybe(fc.constantFrom(1e-9, 1e-3, 1)),
  }),
  fc.record({ kind: fc.constant('fedadagrad' as const), learningRate: maybe(fc.double({ min: 1e-3, max: 1e3, noNaN: true })), beta1: maybe(unit), tau: maybe(fc.constantFrom(1e-9, 1)) }),
));
const aggregation = maybe(fc.oneof(
  fc.record({ kind: fc.constant('fedavg' as const), weighting: maybe(fc.constantFrom('examples' as const, 'uniform' as const)), serverOptimizer }),
  fc.record({ kind: fc.constant('median' as const), serverOptimizer }),
  fc.record({ kind: fc.constant('trimmed-mean' as const), trimRatio: maybe(fc.constantFrom(0, 0.1, 0.3)), serverOptimizer }),
  fc.record({ kind: fc.constant('krum' as const), byzantine: maybe(fc.constantFrom(0, 1)), select: maybe(fc.constantFrom(1, 2, 4)), serverOptimizer }),
));

describe('aggregation strategies in the federation config', () => {
  it('every strategy and optimizer survives configMessage → protobuf → configFromMessage, zeros included', () => {
    fc.assert(fc.property(aggregation, (agg) => {
      const input: FederationConfigInput = { ...BASE, aggregation: agg };
      const parsed = parseFederationConfig(input);
      expect(parseFederationConfig(configFromMessage(overTheWire(configMessage(input))))).toEqual(parsed);
      // What the coordinator stores and sends back parses to itself.
      expect(parseFederationConfig(parsed)).toEqual(parsed);
      expect(parseFederationConfig(configFromMessage(overTheWire(configMessage(parsed))))).toEqual(parsed);
    }), { numRuns: 200 });
  });

  it('fills the documented defaults', () => {
    const opt = (serverOptimizer: object) => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer } as never }).aggregation.serverOptimizer;
    expect(opt({ kind: 'fedavgm' })).toEqual({ kind: 'fedavgm', learningRate: 0.1, momentum: 0.9 });
    expect(opt({ kind: 'fedadam' })).toEqual({ kind: 'fedadam', learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    expect(opt({ kind: 'fedadagrad' })).toEqual({ kind: 'fedadagrad', learningRate: 0.01, beta1: 0.9, tau: 1e-3 });
    expect(parseFederationConfig({ ...BASE, aggregation: { kind: 'krum' } }).aggregation)
      .toEqual({ kind: 'krum', weighting: 'uniform', byzantine: 1, select: 1, serverOptimizer: { kind: 'sgd', learningRate: 1 } });
    expect(parseFederationConfig({ ...BASE, aggregation: { kind: 'trimmed-mean' } }).aggregation).toMatchObject({ trimRatio: 0.1 });
  });

  it('builds the aggregator and optimizer the config names', () => {
    const built = (agg: FederationConfigInput['aggregation']) => {
      const config = parseFederationConfig({ ...BASE, aggregation: agg });
      return [aggregationFor(config, null).name, serverOptimizerFor(config).name];
    };
    expect(built(undefined)).toEqual(['weighted-mean', 'sgd']);
    expect(built({ kind: 'fedavg', serverOptimizer: { kind: 'fedyogi' } })).toEqual(['weighted-mean', 'fedyogi']);
    expect(built({ kind: 'median', serverOptimizer: { kind: 'fedavgm' } })).toEqual(['median', 'fedavgm']);
    expect(built({ kind: 'trimmed-mean' })).toEqual(['trimmed-mean', 'sgd']);
    expect(built({ kind: 'krum', select: 3 })).toEqual(['multi-krum', 'sgd']);
    expect(aggregationFor(parseFederationConfig({ ...BASE, aggregation: { kind: 'median' } }), null).capability).toBe('individual');
  });

  it('refuses robust aggregators under DP, Krum rounds too small for its guarantee, and out-of-range parameters', () => {
    for (const kind of ['median', 'trimmed-mean', 'krum'] as const) {
      expect(() => parseFederationConfig({ ...BASE, privacy: DP, aggregation: { kind } })).toThrow(/aggregation: .*cannot run under it/);
    }
    expect(() => parseFederationConfig({ ...BASE, minSites: 4, aggregation: { kind: 'krum' } })).toThrow(/needs at least 5 updates a round; raise minSites \(now 4\)/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'krum', byzantine: 1, select: 5 } })).toThrow(/select \(5\) must leave out/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'trimmed-mean', trimRatio: 0.5 } })).toThrow(/trimRatio/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'median', weighting: 'examples' } })).toThrow(/can only be "uniform"/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'fedadam', beta1: 1 } } })).toThrow(/beta1/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'fedavgm', momentum: -0.1 } } })).toThrow(/momentum/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'fedyogi', tau: 0 } } })).toThrow(/tau/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'fedadagrad', beta2: 0.9 } } })).toThrow(/beta2|Unrecognized/);
    expect(() => parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'lamb' } } })).toThrow(/serverOptimizer\.kind must be one of sgd, fedavgm, fedadam, fedyogi, fedadagrad/);
  });
});
