/**
 * A site driving the SDK's secagg protocol by hand over the in-memory coordinator, so a test
 * decides where it stops, what it sends, and what the coordinator's tasks say.
 */
import type { GetTaskResponseMsg, RoundPlanMsg } from '../../protocols/index.ts';
import type { StageSubmission } from '../../client-sdk/connection.ts';
import type { SiteRoundContext } from '../../client-sdk/protection/protocol.ts';
import { secureAggregation as siteSecAgg } from '../../client-sdk/protection/secagg.ts';
import type { SiteCaller } from '../../coordinator/participant-endpoint.ts';
import { generateSiteIdentity } from '../../crypto/site-identity.ts';
import { TINY_LAYOUT, poll, send, type InMemoryCoordinator } from './in-memory-coordinator.ts';

export const SECAGG_STAGES = ['advertise-keys', 'share-keys', 'masked-input', 'unmask'] as const;

export class FakeSecAggSite {
  ctx!: SiteRoundContext;
  readonly c: InMemoryCoordinator;
  readonly caller: SiteCaller;
  readonly delta: Float32Array;
  identity = generateSiteIdentity();
  /** Kept across rounds, as a Participant keeps it. */
  readonly peerIdentities = new Map<string, Uint8Array>();

  constructor(c: InMemoryCoordinator, caller: SiteCaller, delta: Float32Array) {
    this.c = c;
    this.caller = caller;
    this.delta = delta;
  }

  async plan(): Promise<RoundPlanMsg> {
    const task = await poll(this.c, this.caller);
    if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
    this.ctx = { plan: task.round, layout: TINY_LAYOUT, secrets: new Map(), identity: this.identity, peerIdentities: this.peerIdentities };
    return task.round;
  }

  submit(message: StageSubmission) {
    const { tensor, ...envelope } = message;
    return send(this.c, this.caller, envelope, tensor);
  }

  async advertisement(): Promise<StageSubmission> {
    return siteSecAgg.first(this.ctx, { delta: this.delta, numExamples: 0, trainLoss: 0, trainAccuracy: 0, unclipped: true });
  }

  async advertise() {
    return this.submit(await this.advertisement());
  }

  async answer(stage: string) {
    return this.submit(await this.prepare(stage));
  }

  async task(stage: string): Promise<Extract<GetTaskResponseMsg, { task: 'stage' }>['stage']> {
    const task = await poll(this.c, this.caller);
    if (task.task !== 'stage' || task.stage.stage !== stage) throw new Error(`expected stage ${stage}, got ${task.task === 'stage' ? task.stage.stage : task.task}`);
    return task.stage;
  }

  async prepare(stage: string): Promise<StageSubmission> {
    return siteSecAgg.stage(this.ctx, await this.task(stage));
  }
}

/** Runs the sites through the stages; site i stops before stage stopAt[i] (4 = never), then the deadline passes. */
export async function runSecAggRound(c: InMemoryCoordinator, sites: FakeSecAggSite[], stopAt: number[], deadlineMs = 1000): Promise<void> {
  for (const s of sites) await s.plan();
  for (let stage = 0; stage < 4; stage++) {
    for (let i = 0; i < sites.length; i++) {
      if (stopAt[i]! <= stage) continue;
      if (stage === 0) await sites[i]!.advertise();
      else await sites[i]!.answer(SECAGG_STAGES[stage]!);
    }
    // Ends the stage for sites that stayed silent (no-op when every live site answered).
    if (stopAt.some((s) => s <= stage)) await c.clock.advance(deadlineMs);
  }
}
