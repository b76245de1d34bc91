import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { configFromMessage, configMessage, parseFederationConfig, type FederationConfigInput } from '../federation-config.ts';
import { secAggParametersFor } from './secagg-config.ts';
import { baseConfig, overTheWire, CENTRAL_DP } from '../federation-config.fixture.ts';

const BASE = baseConfig({ sitesPerRound: 10, minSites: 5, protection: { kind: 'secagg' } });

const DP = { ...CENTRAL_DP, sampleRate: 1 } satisfies NonNullable<FederationConfigInput['privacy']>;


describe('protection "secagg" in the federation config', () => {
  it('takes the defaults (30% dropout, no colluders, 30 s later stages) and weights every site alike', () => {
    const config = parseFederationConfig(BASE);
    expect(config.protection).toEqual({ kind: 'secagg', maxDropout: 0.3, colluders: 0, stageDeadlineMs: 30_000 });
    expect(config.aggregation).toMatchObject({ kind: 'fedavg', weighting: 'uniform' });
    expect(parseFederationConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it('travels over the wire with every parameter, a 0% dropout included', () => {
    const protection = fc.record({
      kind: fc.constant('secagg' as const),
      maxDropout: fc.option(fc.double({ min: 0, max: 0.9, noNaN: true }), { nil: undefined }),
      colluders: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
      clipNorm: fc.option(fc.double({ min: 1e-3, max: 1e3, noNaN: true }), { nil: undefined }),
      pinned: fc.option(fc.constantFrom([2, 2], [4, 3], [9, 5]), { nil: undefined }),
      stageDeadlineMs: fc.option(fc.integer({ min: 100, max: 1e6 }), { nil: undefined }),
    });
    fc.assert(fc.property(protection, ({ pinned, ...p }) => {
      const input = { ...BASE, protection: { ...p, ...(pinned ? { neighbours: pinned[0], threshold: pinned[1] } : {}) } } as FederationConfigInput;
      expect(parseFederationConfig(configFromMessage(overTheWire(configMessage(input))))).toEqual(parseFederationConfig(input));
    }), { numRuns: 100 });
    expect(parseFederationConfig(configFromMessage(overTheWire(configMessage({ ...BASE, protection: { kind: 'secagg', maxDropout: 0 } })))).protection)
      .toMatchObject({ maxDropout: 0 });
  });

  it('refuses what cannot run, saying why', () => {
    const refuses = (input: object, message: RegExp) => expect(() => parseFederationConfig({ ...BASE, ...input })).toThrow(message);
    refuses({ sitesPerRound: 2, minSites: 2 }, /sitesPerRound: secure aggregation needs at least 3 sites per round/);
    refuses({ protection: { kind: 'secagg', neighbours: 4 } }, /protection\.neighbours: give both neighbours \(k\) and threshold \(t\)/);
    refuses({ protection: { kind: 'secagg', neighbours: 4, threshold: 5 } }, /threshold t = 5 cannot exceed neighbours k = 4/);
    refuses({ protection: { kind: 'secagg', neighbours: 10, threshold: 5 } }, /neighbours k = 10 needs at least 11 sites per round/);
    refuses({ sitesPerRound: 9, protection: { kind: 'secagg', neighbours: 3, threshold: 2 } }, /no 3-regular graph on 9 sites/);
    refuses({ protection: { kind: 'secagg', colluders: 9 } }, /protection\.colluders: at most 8 colluders/);
    refuses({ protection: { kind: 'secagg', maxDropout: 1 } }, /maxDropout/);
    refuses({ protection: { kind: 'secagg', clipNorm: 5 }, privacy: DP }, /protection\.clipNorm: with differential privacy the updates are clipped to privacy\.clipNorm/);
    refuses({ aggregation: { kind: 'fedavg', weighting: 'examples' } }, /aggregation\.weighting: secure aggregation yields an unweighted sum/);
    refuses({ aggregation: { kind: 'median' } }, /aggregation: the aggregator needs each update on its own, but protection "secagg" only ever yields their sum/);
    refuses({ aggregation: { kind: 'krum', byzantine: 0 } }, /only ever yields their sum/);
    refuses({ protection: { kind: 'secagg', rounds: 3 } }, /protection/);
  });

  it('runs under central DP (the coordinator noises the unmasked sum)', () => {
    expect(parseFederationConfig({ ...BASE, privacy: DP }).protection.kind).toBe('secagg');
  });

  it('chooses k and t from the dropout rate and colluders, or takes the pinned pair with its bounds', () => {
    const chosen = secAggParametersFor({ maxDropout: 0.3, colluders: 0 }, 100);
    expect(chosen.meetsTarget).toBe(true);
    expect(chosen.failureProbability).toBeLessThanOrEqual(1e-3);
    expect(chosen.t).toBeGreaterThan(chosen.k / 2);
    // A sparse graph once n is large enough for one to beat the full graph's failure bound.
    expect(secAggParametersFor({ maxDropout: 0.1, colluders: 0 }, 1000).k).toBeLessThan(999);
    const pinned = secAggParametersFor({ maxDropout: 0.3, colluders: 0, neighbours: 4, threshold: 3 }, 10);
    expect(pinned).toMatchObject({ k: 4, t: 3 });
    expect(pinned.failureProbability).toBeGreaterThan(1e-3);
  });
});
