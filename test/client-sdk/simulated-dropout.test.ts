import { describe, expect, it } from 'vitest';
import { dropoutStage, withSimulatedDropout } from '../../client-sdk/cli/simulated-dropout.ts';
import type { SiteProtocol, SiteRoundContext } from '../../client-sdk/protection/protocol.ts';
import type { RoundPlanMsg, StageTaskMsg } from '../../protocols/index.ts';

const STAGES = ['advertise-keys', 'share-keys', 'masked-input', 'unmask'];

describe('simulated dropout (simulation tooling)', () => {
  it('drops with probability p, at a uniformly drawn stage, the same way for the same seed, site and round', () => {
    const plan = { probability: 0.3, seed: 1, site: 4 };
    const draws = Array.from({ length: 4000 }, (_, r) => dropoutStage(plan, `round-${r}`, STAGES));
    const dropped = draws.filter((s) => s !== null);
    // Binomial(4000, 0.3): sd ≈ 29, so ± 150 is > 5 sd.
    expect(Math.abs(dropped.length - 1200)).toBeLessThan(150);
    for (const stage of STAGES) expect(Math.abs(dropped.filter((s) => s === stage).length - dropped.length / 4)).toBeLessThan(100);
    expect(dropoutStage(plan, 'round-7', STAGES)).toBe(draws[7]);
    expect(Array.from({ length: 200 }, (_, r) => dropoutStage({ ...plan, site: 5 }, `round-${r}`, STAGES))).not.toEqual(draws.slice(0, 200));
    expect(dropoutStage({ ...plan, probability: 0 }, 'round-1', STAGES)).toBeNull();
  });

  it('a dropping site sends nothing for its stage, waits out the deadline, then leaves the round', async () => {
    const sent: string[] = [];
    const inner: SiteProtocol = {
      name: 'secagg',
      first: () => { sent.push('advertise-keys'); return { roundId: 'r', stage: 'advertise-keys' }; },
      stage: (_ctx, task) => { sent.push(task.stage); return { roundId: 'r', stage: task.stage }; },
    };
    // Find a round where site 0 drops at share-keys.
    const plan = { probability: 0.5, seed: 3, site: 0 };
    const roundId = Array.from({ length: 500 }, (_, r) => `r${r}`).find((id) => dropoutStage(plan, id, STAGES) === 'share-keys')!;
    const ctx = { plan: { roundId, deadlineUnixMs: Date.now(), protectionPlan: { stages: STAGES } } as unknown as RoundPlanMsg, layout: [], secrets: new Map() } satisfies SiteRoundContext;
    const site = withSimulatedDropout(inner, plan);
    await site.first(ctx, { delta: new Float32Array(1), numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false });
    const started = Date.now();
    const task = { roundId, stage: 'share-keys', deadlineUnixMs: Date.now() + 100 } as unknown as StageTaskMsg;
    await expect(site.stage(ctx, task)).rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/simulated dropout/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(sent).toEqual(['advertise-keys']);
  });
});
