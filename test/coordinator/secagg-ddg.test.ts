/**
 * Protection "secagg" under distributed DP: the ledger charged the round for at least `chargedClients`
 * sites' noise in the sum, so the module aborts a round that would unmask fewer, whatever its
 * quorum and t would allow.
 */
import { describe, expect, test } from 'vitest';
import { secureAggregation } from '../../coordinator/protection/secagg.ts';
import type { StageRoundContext } from '../../coordinator/protection/protocol.ts';
import type { RoundPrivacy } from '../../coordinator/round-privacy.ts';
import type { RoundAggregation } from '../../coordinator/aggregation/aggregator.ts';
import { TINY_LAYOUT } from '../helpers/in-memory-coordinator.ts';

const ids = ['a', 'b', 'c', 'd', 'e'];

function context(chargedClients: number | null): StageRoundContext {
  const privacy = {
    mode: 'distributed', configuredNoiseMultiplier: 1, clipNorm: 1, expectedSites: 5, siteNoiseStd: 0.4, chargedNoiseMultiplier: 0.2,
    sampling: [], eligible: [], adaptiveClip: null, delta: 1e-5,
    distributed: {
      protection: { kind: 'secagg', maxDropout: 0.3, colluders: 0, neighbours: 4, threshold: 2, stageDeadlineMs: 1000 }, minSites: 2, updateLength: 8,
      ddg: chargedClients === null ? null : { granularity: 1e-3, beta: Math.exp(-0.5), maxSites: 5, dim: 8, chargedClients },
    },
  } as unknown as RoundPrivacy;
  return {
    federationId: 'f', roundId: `r-${chargedClients}`, roundNumber: 1, layout: TINY_LAYOUT, selected: ids, minSurvivors: 2, dp: true,
    protection: { kind: 'secagg', maxDropout: 0.3, colluders: 0, neighbours: 4, threshold: 2, stageDeadlineMs: 1000 },
    privacy: chargedClients === null ? null : privacy,
  };
}

const aggregation = { addSum() {} } as unknown as RoundAggregation;

describe('secagg under distributed DP', () => {
  for (const stage of [0, 1] as const) {
    test(`stage ${stage}: 3 survivors go on at quorum 2 and t = 2, but not when the ledger charged 4`, () => {
      const protocol = secureAggregation();
      const plain = context(null);
      const ddg = context(4);
      const run = (ctx: StageRoundContext) => {
        const state = protocol.begin(ctx, aggregation);
        if (stage === 1) for (let i = 0; i < 5; i++) state.u2.add(i);
        return protocol.stages[stage]!.finish!(state, ctx, ['a', 'b', 'c'], ['a', 'b', 'c']);
      };
      expect(run(plain)).toEqual({ survivors: ['a', 'b', 'c'] });
      expect(run(ddg)).toMatchObject({ abort: expect.stringMatching(/3 sites can go on, at least 4 needed \(t = 2, 4 charged by the privacy ledger\)/) });
      expect(run(context(3))).toEqual({ survivors: ['a', 'b', 'c'] });
    });
  }

  test('the masked vector is the DDG encoded length + 1, and a plan charging fewer than t is refused', () => {
    const protocol = secureAggregation();
    const plan = protocol.plan!(context(3));
    expect(plan).toMatchObject({ params: 'secagg', secagg: { vectorLength: 9, threshold: 2 } });
    expect(() => protocol.plan!(context(1))).toThrow(/charged 1 survivors, below t = 2/);
  });
});
