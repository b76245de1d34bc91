/**
 * The site side of the stage seam: real Participants (client-sdk) with an injected trainer and an
 * in-memory transport to the coordinator core, no tfjs and no sockets. Each keeps polling while
 * its round's protocol has tasks for it and answers the second stage from the round's in-memory
 * context.
 */
import { afterEach, expect, test } from 'vitest';
import { ConclaveError } from '../../protocols/index.ts';
import { Participant } from '../../client-sdk/participant.ts';
import type { SiteProtocol } from '../../client-sdk/protection/protocol.ts';
import { noProtection as siteNone } from '../../client-sdk/protection/none.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import { noProtection } from '../../coordinator/protection/none.ts';
import { runParticipants, inMemoryCoordinator, sha256, tinyFederation, type InMemoryCoordinator, inMemoryTransport, fixedTrainer } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());



/** Coordinator half: hold updates in `submit`, release them once the site proves it holds the round's nonce. */
const coordinatorTwoStage: ProtectionProtocol<{ agg: Parameters<ProtectionProtocol['begin']>[1]; updates: Map<string, Float32Array> }> = {
  name: 'test-two-stage',
  plan: () => ({ protocol: 'test-two-stage', stages: ['submit', 'confirm'], params: 'opaque', opaque: { data: Buffer.alloc(0) } }),
  begin: (_ctx, agg) => ({ agg, updates: new Map() }),
  stages: [
    {
      name: 'submit',
      expect: (s, ctx, id, h) => noProtection.stages[0]!.expect(s as never, ctx, id, h),
      accept: (s, _ctx, m) => void s.updates.set(m.siteId, Float32Array.from(m.tensor as Float32Array)),
      finish: (_s, _ctx, answered) => ({ survivors: [...answered] }),
    },
    {
      name: 'confirm',
      task: (_s, siteId) => ({ body: 'opaque', opaque: { data: sha256('nonce', siteId) } }),
      expect: () => null,
      accept(_s, _ctx, m) {
        if (m.header.body !== 'opaque' || !m.header.opaque.data.equals(sha256(sha256('nonce', m.siteId), 'secret-of-', m.siteId))) {
          throw new ConclaveError('INVALID_ARGUMENT', 'wrong confirmation');
        }
      },
      finish: (_s, _ctx, answered) => ({ survivors: [...answered] }),
    },
  ],
  unprotect(s, _ctx, survivors) {
    for (const id of survivors) s.agg.add(s.updates.get(id)!, 1);
  },
};

/** Site half: the first stage stores a per-round secret in the round's context; the second answers from it. */
const siteTwoStage: SiteProtocol = {
  name: 'test-two-stage',
  first(ctx, contribution) {
    ctx.secrets.set('tag', `secret-of-`);
    return siteNone.first(ctx, contribution);
  },
  stage(ctx, task) {
    if (task.body !== 'opaque') throw new Error('expected a nonce');
    const siteId = (ctx.secrets.get('siteId') as string | undefined) ?? '';
    return { roundId: task.roundId, stage: task.stage, body: 'opaque', opaque: { data: sha256(task.opaque.data, ctx.secrets.get('tag') as string, siteId) } };
  },
};

test('Participants take part in both stages of a round and the model moves by the mean of their deltas', async () => {
  c = await inMemoryCoordinator({ protocols: new Map([['none', coordinatorTwoStage as ProtectionProtocol<never>]]) });
  const fed = await tinyFederation(c, 3);
  const events = await runParticipants(c, fed.sites.map((site, i) => new Participant({
    transport: inMemoryTransport(c, site), trainer: fixedTrainer(i + 1), pollWaitMs: 20,
    protocols: new Map([['test-two-stage', { ...siteTwoStage, first: (ctx, contribution) => {
      ctx.secrets.set('siteId', site.siteId);
      return siteTwoStage.first(ctx, contribution);
    } }]]),
  })));
  for (const siteEvents of events) {
    const kinds = siteEvents.map((e) => e.type);
    expect(kinds).toContain('submitted');
    expect(kinds).toContain('stage-sent');
    expect(kinds.indexOf('stage-sent')).toBeGreaterThan(kinds.indexOf('submitted'));
    expect(kinds.at(-1)).toBe('finished');
  }
  const [round] = c.rounds.listRounds(fed.id);
  expect(round).toMatchObject({ state: 'committed', stage: 'confirm' });
  const next = c.registry.readWeights(c.registry.get(fed.id, 1));
  for (const v of next) expect(v).toBeCloseTo(2, 6);
});
