/**
 * TEST TOOLING for `conclave simulate --dropout P`: makes a simulated site drop out of a round as a
 * real one would (a crash, a lost link), inside the site's own process. Each round, with
 * probability P, the site picks one of the round's protocol stages uniformly and goes silent there:
 * it sends nothing for that stage and nothing after, and the coordinator only notices when the
 * stage's deadline passes. The draw is a hash of the seed, the site and the round, so a seeded
 * simulation drops the same sites at the same stages every time. Never used outside simulations.
 */
import { createHash } from 'node:crypto';
import { ConclaveError } from '../../protocols/index.ts';
import type { SiteProtocol, SiteRoundContext } from '../protection/protocol.ts';

const DROP = 'simulated-dropout';

export interface DropoutPlan {
  probability: number;
  seed: number;
  site: number;
}

/** Two uniforms in [0, 1) for (seed, site, round). */
function draws(plan: DropoutPlan, roundId: string): [number, number] {
  const digest = createHash('sha256').update(`conclave-simulated-dropout:${plan.seed}:${plan.site}:${roundId}`).digest();
  return [digest.readUInt32BE(0) / 2 ** 32, digest.readUInt32BE(4) / 2 ** 32];
}

/** The stage this site drops at in the round, or null. */
export function dropoutStage(plan: DropoutPlan, roundId: string, stages: readonly string[]): string | null {
  if (stages.length === 0) return null;
  const [drop, which] = draws(plan, roundId);
  return drop < plan.probability ? stages[Math.floor(which * stages.length)]! : null;
}

/**
 * Stays silent until the stage's deadline has passed, so the coordinator ends the stage without
 * this site (the site is then no longer live and gets no later task), then leaves the round.
 */
async function goSilent(stage: string, deadlineUnixMs: number): Promise<never> {
  const wait = Math.max(0, deadlineUnixMs - Date.now()) + 250;
  await new Promise((resolve) => setTimeout(resolve, wait));
  throw new ConclaveError('ROUND_CLOSED', `simulated dropout: this site went silent at stage "${stage}"`);
}

export function withSimulatedDropout(protocol: SiteProtocol, plan: DropoutPlan): SiteProtocol {
  const stageOf = (ctx: SiteRoundContext): string | null => {
    if (!ctx.secrets.has(DROP)) ctx.secrets.set(DROP, dropoutStage(plan, ctx.plan.roundId, ctx.plan.protectionPlan?.stages ?? []));
    return ctx.secrets.get(DROP) as string | null;
  };
  return {
    name: protocol.name,
    async first(ctx, contribution) {
      const stage = ctx.plan.protectionPlan?.stages[0];
      if (stage !== undefined && stageOf(ctx) === stage) return goSilent(stage, Number(ctx.plan.deadlineUnixMs));
      return protocol.first(ctx, contribution);
    },
    async stage(ctx, task) {
      if (stageOf(ctx) === task.stage) return goSilent(task.stage, Number(task.deadlineUnixMs));
      return protocol.stage(ctx, task);
    },
  };
}
