/**
 * An operator's rollback: the next round starts from an earlier version; that round's version
 * records it as its parent; every version stays in the registry.
 */
import { afterEach, expect, test } from 'vitest';
import type { RoundPlanMsg } from '../../protocols/index.ts';
import { diffByTensor } from '../../coordinator/cli/round-model-commands.ts';
import { TINY_LAYOUT, inMemoryCoordinator, openRound, poll, sendUpdate, tinyConfig, tinyFederation, type InMemoryCoordinator } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

async function playRound(fed: Awaited<ReturnType<typeof tinyFederation>>, value: number): Promise<RoundPlanMsg> {
  await openRound(c, fed.sites);
  const plans: RoundPlanMsg[] = [];
  for (const site of fed.sites) {
    const task = await poll(c, site);
    if (task.task !== 'round') throw new Error(`expected a plan, got ${task.task}`);
    plans.push(task.round);
  }
  for (const [i, site] of fed.sites.entries()) await sendUpdate(c, site, plans[i]!.roundId, new Float32Array(8).fill(value));
  return plans[0]!;
}

test('roll back to v1 after v3: the next round is based on v1, v4 records v1 as its parent, v2 and v3 stay listed', async () => {
  c = await inMemoryCoordinator();
  const fed = await tinyFederation(c, 2, tinyConfig({ rounds: 4, sitesPerRound: 2 }));
  for (let r = 1; r <= 3; r++) await playRound(fed, r);
  expect(c.registry.latestVersion(fed.id)).toBe(3);
  c.federations.rollback(fed.id, 1);
  const plan = await playRound(fed, 10);
  expect(plan.modelVersion).toBe(1);
  const v1 = c.registry.readWeights(c.registry.get(fed.id, 1));
  const v4 = c.registry.get(fed.id, 4);
  expect(v4.parentVersion).toBe(1);
  const w4 = c.registry.readWeights(v4);
  for (let i = 0; i < 8; i++) expect(w4[i]).toBeCloseTo(v1[i]! + 10, 5);
  expect(c.registry.list(fed.id).map((m) => m.version)).toEqual([0, 1, 2, 3, 4]);
  // The rollback was spent by the commit: a further round would build on v4.
  expect(c.rounds.rounds.rollbackTarget(fed.id)).toBeNull();
});

test('a rollback to a version the federation never had is NOT_FOUND and changes nothing', async () => {
  c = await inMemoryCoordinator();
  const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2 }));
  expect(() => c.federations.rollback(fed.id, 7)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  expect(c.rounds.rounds.rollbackTarget(fed.id)).toBeNull();
});

test('model diff: per-tensor norms of the difference', () => {
  const a = new Float32Array([1, 0, 0, 0, 0, 0, 3, 4]);
  const b = new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]);
  const rows = diffByTensor(TINY_LAYOUT, a, TINY_LAYOUT, b);
  expect(rows.map((r) => r.name)).toEqual(['dense/kernel', 'dense/bias']);
  expect(rows[0]).toMatchObject({ diffNorm: 0, baseNorm: 1 });
  expect(rows[1]).toMatchObject({ diffNorm: 5, baseNorm: 5, relative: 1 });
  expect(() => diffByTensor(TINY_LAYOUT, a, [TINY_LAYOUT[0]!], b.subarray(0, 6))).toThrow(/different layouts/);
});

test('an operator aborts the round in progress: nothing is committed, the reason is kept, a finished round cannot be aborted', async () => {
  c = await inMemoryCoordinator();
  const fed = await tinyFederation(c, 2, tinyConfig({ rounds: 2, sitesPerRound: 2 }));
  await openRound(c, fed.sites);
  const task = await poll(c, fed.sites[0]!);
  if (task.task !== 'round') throw new Error('expected a plan');
  const aborted = c.rounds.abortByOperator(fed.id, task.round.roundId, 'aborted by the operator: testing');
  expect(aborted).toMatchObject({ state: 'aborted', abortReason: 'aborted by the operator: testing', stage: 'submit' });
  expect(c.registry.latestVersion(fed.id)).toBe(0);
  await expect(sendUpdate(c, fed.sites[0]!, task.round.roundId, new Float32Array(8))).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
  expect(() => c.rounds.abortByOperator(fed.id, task.round.roundId, 'again')).toThrow(expect.objectContaining({ code: 'FEDERATION_STATE' }));
  expect(() => c.rounds.abortByOperator(fed.id, 'no-such-round', 'x')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
});
