/**
 * The round pipeline as ordered protocol stages, without tfjs or sockets: a manual clock and the
 * participant endpoint as an in-memory transport. A two-stage protocol that exists only here shows
 * the seam: sites get a second task after their first message, dropouts between stages are left
 * out of the aggregate, each stage records its own dropouts, and a crash between stages aborts.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { ConclaveError, type RoundPlanMsg, type StageTaskMsg } from '../../protocols/index.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import type { RoundAggregation } from '../../coordinator/aggregation/aggregator.ts';
import { noProtection } from '../../coordinator/protection/none.ts';
import { RoundManager } from '../../coordinator/rounds.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import {
  TINY_LAYOUT, inMemoryCoordinator, openRound, poll, send, sendUpdate, settle, sha256, tinyConfig, tinyFederation, type InMemoryCoordinator,
} from '../helpers/in-memory-coordinator.ts';

interface TwoStageState {
  aggregation: RoundAggregation;
  updates: Map<string, Float32Array>;
  nonces: Map<string, Buffer>;
}

/**
 * `submit` (the update, held back) then `confirm` (each site proves it holds its round's nonce):
 * only confirmed updates reach the aggregate, like secure aggregation's unmasking needs survivors.
 */
const twoStage: ProtectionProtocol<TwoStageState> = {
  name: 'test-two-stage',
  plan: () => ({ protocol: 'test-two-stage', stages: ['submit', 'confirm'], params: 'opaque', opaque: { data: Buffer.from('two-stage') } }),
  begin: (_ctx, aggregation) => ({ aggregation, updates: new Map(), nonces: new Map() }),
  stages: [
    {
      name: 'submit',
      expect: (state, ctx, siteId, header) => noProtection.stages[0]!.expect(state as never, ctx, siteId, header),
      accept(state, _ctx, message) {
        state.updates.set(message.siteId, Float32Array.from(message.tensor as Float32Array));
      },
      finish: (state, ctx, answered, live) => noProtection.stages[0]!.finish(state as never, ctx, answered, live),
    },
    {
      name: 'confirm',
      task(state, siteId) {
        const nonce = sha256('nonce', siteId);
        state.nonces.set(siteId, nonce);
        return { body: 'opaque', opaque: { data: nonce } };
      },
      expect(_state, _ctx, _siteId, header) {
        if (header.body !== 'opaque' || header.opaque.data.length !== 32) throw new ConclaveError('INVALID_ARGUMENT', 'confirm takes a 32-byte opaque body');
        return null;
      },
      accept(state, _ctx, message) {
        const expected = sha256(state.nonces.get(message.siteId)!, message.siteId);
        if (message.header.body !== 'opaque' || !expected.equals(message.header.opaque.data)) throw new ConclaveError('INVALID_ARGUMENT', 'wrong confirmation');
      },
      finish(_state, ctx, answered) {
        if (answered.length < ctx.minSurvivors) return { abort: `only ${answered.length} sites confirmed, fewer than ${ctx.minSurvivors}` };
        return { survivors: [...answered] };
      },
    },
  ],
  unprotect(state, _ctx, survivors) {
    for (const site of survivors) state.aggregation.add(state.updates.get(site)!, 1);
  },
};

let c: InMemoryCoordinator;
afterEach(() => c?.close());

const vec = (x: number) => Float32Array.from({ length: 8 }, (_, i) => x + i / 100);

async function planOf(site: Parameters<typeof poll>[1]): Promise<RoundPlanMsg> {
  const task = await poll(c, site);
  if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
  return task.round;
}

describe('protection "none" through the stage machinery', () => {
  test('every selected site submits: the round commits the weighted mean, and the stage is logged', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    expect(plans[0]!.protectionPlan).toMatchObject({ protocol: 'none', stages: ['submit'], params: 'none' });
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, vec(1), 1);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, vec(2), 2);
    const third = await sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, vec(4), 1);
    expect(third.received).toBe(3);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed', resultVersion: 1, stage: 'submit' });
    const next = c.registry.readWeights(c.registry.get(fed.id, 1));
    for (let i = 0; i < 8; i++) expect(next[i]).toBeCloseTo((vec(1)[i]! + 2 * vec(2)[i]! + vec(4)[i]!) / 4, 6);
    const [log] = c.rounds.stageLog(round!.id);
    expect(log).toMatchObject({ stage: 'submit', dropped: [] });
    expect(log!.answered.sort()).toEqual(fed.sites.map((s) => s.siteId).sort());
  });

  test('a silent site is a dropout at the deadline; the quorum commits without it', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, vec(1));
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, vec(3));
    expect(c.rounds.listRounds(fed.id)[0]!.state).toBe('collecting');
    await c.clock.advance(1000);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round!.state).toBe('committed');
    expect(c.rounds.stageLog(round!.id)[0]!.dropped).toEqual([fed.sites[2]!.siteId]);
    // The dropout's late upload is refused and changes nothing.
    await expect(sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, vec(9))).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
  });

  test('below the quorum at the deadline the round aborts with the reason and writes no version', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, vec(1));
    await c.clock.advance(1000);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'aborted', abortReason: 'quorum not reached: 1 of 2 required updates by the deadline' });
    expect(c.registry.latestVersion(fed.id)).toBe(0);
  });

  test('messages are checked against the stage before anything is buffered', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plan = await planOf(fed.sites[0]!);
    const body = { numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false };
    await expect(send(c, fed.sites[0]!, { roundId: plan.roundId, stage: 'confirm', body: 'update', update: body }, { layout: TINY_LAYOUT, values: vec(1) }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(send(c, fed.sites[0]!, { roundId: plan.roundId, stage: 'submit', body: 'opaque', opaque: { data: Buffer.alloc(1) } }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(send(c, fed.sites[0]!, { roundId: plan.roundId, stage: 'submit', body: 'update', update: body }, {
      layout: [{ name: 'dense/kernel', shape: [8], dtype: 'uint32' }], values: new Uint32Array(8),
    })).rejects.toMatchObject({ code: 'LAYOUT_MISMATCH' });
    // Nothing was stored; the site can still submit properly.
    expect((await sendUpdate(c, fed.sites[0]!, plan.roundId, vec(1))).received).toBe(1);
    await expect(sendUpdate(c, fed.sites[0]!, plan.roundId, vec(1))).rejects.toMatchObject({ code: 'DUPLICATE_SUBMISSION' });
  });
});

describe('a two-stage protocol (tests only)', () => {
  const registry = new Map([['none', twoStage as ProtectionProtocol<never>]]);

  async function confirm(site: Parameters<typeof poll>[1], task: StageTaskMsg) {
    if (task.body !== 'opaque') throw new Error('confirm task carries a nonce');
    return send(c, site, { roundId: task.roundId, stage: 'confirm', body: 'opaque', opaque: { data: sha256(task.opaque.data, site.siteId) } });
  }

  test('a site receives its second task after its first message; a dropout between stages is left out of the aggregate', async () => {
    c = await inMemoryCoordinator({ protocols: registry });
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    expect(plans[0]!.protectionPlan).toMatchObject({ protocol: 'test-two-stage', stages: ['submit', 'confirm'] });
    // Before its first message the site has the plan; the second task only once the stage moved on.
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, vec(1));
    expect((await poll(c, fed.sites[0]!)).task).toBe('wait');
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, vec(3));
    await sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, vec(100));
    expect(c.rounds.listRounds(fed.id)[0]!.stage).toBe('confirm');
    const tasks = await Promise.all(fed.sites.map((s) => poll(c, s)));
    for (const t of tasks) expect(t).toMatchObject({ task: 'stage', stage: { stage: 'confirm', roundNumber: 1, body: 'opaque' } });
    // Site 2 drops out between the stages: its update never reaches the model.
    await confirm(fed.sites[0]!, (tasks[0] as { stage: StageTaskMsg }).stage);
    await confirm(fed.sites[1]!, (tasks[1] as { stage: StageTaskMsg }).stage);
    await c.clock.advance(1000);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed', stage: 'confirm' });
    const next = c.registry.readWeights(c.registry.get(fed.id, 1));
    for (let i = 0; i < 8; i++) expect(next[i]).toBeCloseTo((vec(1)[i]! + vec(3)[i]!) / 2, 6);
    const logs = c.rounds.stageLog(round!.id);
    expect(logs.map((l) => [l.stage, l.dropped])).toEqual([['submit', []], ['confirm', [fed.sites[2]!.siteId]]]);
  });

  test('too few survivors of the second stage abort the round with the stage\'s reason', async () => {
    c = await inMemoryCoordinator({ protocols: registry });
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    for (let i = 0; i < 3; i++) await sendUpdate(c, fed.sites[i]!, plans[i]!.roundId, vec(i));
    const task = await poll(c, fed.sites[0]!);
    await confirm(fed.sites[0]!, (task as { stage: StageTaskMsg }).stage);
    await c.clock.advance(1000);
    expect(c.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'aborted', abortReason: 'only 1 sites confirmed, fewer than 2' });
    expect(c.registry.latestVersion(fed.id)).toBe(0);
  });

  test('a crash between the stages: on restart the round is aborted, naming the stage it was in', async () => {
    c = await inMemoryCoordinator({ protocols: registry });
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2 }));
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    for (let i = 0; i < 2; i++) await sendUpdate(c, fed.sites[i]!, plans[i]!.roundId, vec(i));
    expect(c.rounds.listRounds(fed.id)[0]!.stage).toBe('confirm');
    // The process dies: a new pipeline on the same store recovers.
    c.rounds.stop();
    const restarted = new RoundManager({
      store: c.store, registry: c.registry, log: silentLogger, ledger: c.ledger, clock: c.clock, protocols: registry,
      getFederation: (id) => c.federations.get(id), markFinished: (id, reason) => c.federations.markFinished(id, reason),
    });
    expect(restarted.recover()).toBe(1);
    expect(restarted.listRounds(fed.id)[0]).toMatchObject({
      state: 'aborted', stage: 'confirm', abortReason: 'coordinator restarted while the round was in progress (stage confirm)',
    });
    await settle();
  });
});
