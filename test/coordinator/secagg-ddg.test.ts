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
import { TINY_LAYOUT, inMemoryCoordinator, openRound, tinyConfig, tinyFederation } from '../helpers/in-memory-coordinator.ts';
import { FakeSecAggSite } from '../helpers/secagg-site.ts';
import { until } from '../helpers/wait.ts';
import { secureAggregation as siteSecAgg } from '../../client-sdk/protection/secagg.ts';

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

describe('an honest site under distributed DP', () => {
  test('encodes its update as the plan\'s discrete Gaussian (unclipped bit 0), and refuses to unmask for fewer survivors than were charged', async () => {
    const c = await inMemoryCoordinator();
    try {
      const fed = await tinyFederation(c, 4, tinyConfig({
        sitesPerRound: 4, minSites: 3, protection: { kind: 'secagg', neighbours: 3, threshold: 2 },
        privacy: { mode: 'distributed', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5 },
      }));
      const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, Float32Array.from({ length: 8 }, (_, j) => (i + 1) * 0.1 + j * 0.01)));
      await openRound(c, fed.sites);
      // Opening a DP round signs its ledger charge first: on a loaded machine that may outlast one settle().
      await until('the round to open', async () => c.rounds.listRounds(fed.id).find((r) => r.state === 'collecting'));
      for (const s of sites) await s.plan();
      const dp = sites[0]!.ctx.plan.dp!;
      expect(dp).toMatchObject({ mode: 'distributed', chargedClients: 3, beta: Math.exp(-0.5) });
      expect(dp.granularity).toBeGreaterThan(0);
      for (const s of sites) await s.advertise();
      // The masked input hides integers near Δ/γ plus N_Z noise, and a 0 "unclipped" bit (the site said unclipped: true).
      const input = (sites[0]!.ctx.secrets.get('secagg') as { input: Uint32Array }).input;
      expect(input[8]).toBe(0);
      expect(Math.abs((input[0]! | 0) * dp.granularity - 0.1)).toBeLessThan(10 * dp.siteNoiseStd);
      for (const s of sites) await s.answer('share-keys');
      for (const s of sites) await s.answer('masked-input');
      const task = await sites[0]!.task('unmask');
      // A coordinator that claims only two survivors (t = 2 would let it unmask their sum) is refused.
      if (task.body !== 'secagg') throw new Error('expected a secagg task');
      const forged: typeof task = { ...task, secagg: { ...task.secagg, survivors: task.secagg.survivors.slice(0, 2), dropped: [...task.secagg.dropped, ...task.secagg.survivors.slice(2)] } };
      await expect(siteSecAgg.stage(sites[0]!.ctx, forged)).rejects.toThrow(/only 2 survivors, the round was charged for at least 3/);
    } finally {
      c.close();
    }
  });
});
