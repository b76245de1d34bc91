import { afterEach, expect, test } from 'vitest';
import { callUnary, downloadModel, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import type { RoundMsg } from '../../protocols/index.ts';
import { startTestFederation, tempDataDir } from '../helpers/coordinator.ts';
import { expectGrpcError, plansFor } from '../helpers/raw-site.ts';
import { status } from '@grpc/grpc-js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function roundsOf(fx: Awaited<ReturnType<typeof startTestFederation>>): Promise<RoundMsg[]> {
  return (await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId: fx.federation.id }, fx.coordinator.adminToken)).rounds;
}

async function setup(minSites: number) {
  const { dir, cleanup } = tempDataDir();
  const fx = await startTestFederation({ dataDir: dir, sites: 2, minSites, rounds: 1, roundDeadlineMs: 1500 });
  cleanups.push(cleanup, () => fx.coordinator.close(), () => fx.admin.close());
  const client = participantClient(fx.coordinator.address);
  cleanups.push(() => client.close());
  const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
  const model = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
  // Only site 0 submits; site 1 went silent after receiving its plan.
  await submitUpdate(client, fx.sites[0]!.token, { roundId: plans[0]!.roundId, numExamples: 5, layout: model.layout, values: new Float32Array(model.values.length), trainLoss: 0, trainAccuracy: 0 });
  const opened = Date.now();
  const lateSubmit = () => submitUpdate(client, fx.sites[1]!.token, {
    roundId: plans[1]!.roundId, numExamples: 5, layout: model.layout, values: new Float32Array(model.values.length), trainLoss: 0, trainAccuracy: 0,
  });
  return { fx, opened, lateSubmit };
}

async function waitClosed(fx: Awaited<ReturnType<typeof startTestFederation>>): Promise<RoundMsg> {
  for (let i = 0; i < 100; i++) {
    const [round] = await roundsOf(fx);
    if (round && (round.state === 'committed' || round.state === 'aborted')) return round;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('round never closed');
}

test('a silent site does not stall the round: at the deadline the quorum commits', async () => {
  const { fx, opened } = await setup(1);
  const round = await waitClosed(fx);
  expect(round).toMatchObject({ state: 'committed', resultVersion: 1, submittedSites: [fx.sites[0]!.siteId] });
  expect(round.closedUnixMs - round.openedUnixMs).toBeGreaterThanOrEqual(1400);
  expect(Date.now() - opened).toBeLessThan(10_000);
});

test('below quorum at the deadline the round aborts cleanly and no model version is written', async () => {
  const { fx, lateSubmit } = await setup(2);
  const round = await waitClosed(fx);
  expect(round.state).toBe('aborted');
  expect(round.abortReason).toMatch(/quorum not reached: 1 of 2/);
  expect(fx.coordinator.registry.list(fx.federation.id).map((m) => m.version)).toEqual([0]);
  // The silent site wakes up after the round closed: FAILED_PRECONDITION, and still nothing stored.
  const late = await expectGrpcError(lateSubmit());
  expect(late).toMatchObject({ status: status.FAILED_PRECONDITION, code: 'ROUND_CLOSED' });
  const submitted = fx.coordinator.store.db.prepare('SELECT COUNT(*) AS n FROM submissions WHERE round_id = ?').get(round.id) as { n: number };
  expect(submitted.n).toBe(1);
  expect(fx.coordinator.registry.list(fx.federation.id).map((m) => m.version)).toEqual([0]);
});
