/**
 * Issue 13 over real gRPC: one site token hot-polling is throttled without slowing the others,
 * and revoking a selected site through the admin API ends its round's wait for it at once.
 */
import { afterEach, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { callUnary, getTask, participantClient } from '../../client-sdk/connection.ts';
import type { RoundMsg } from '../../protocols/index.ts';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { expectGrpcError, plansFor, rawSubmit } from '../helpers/raw-site.ts';
import { chunksOf, makeHeader, type StageStreamMsg, type TensorSpec } from '../../protocols/index.ts';
import { downloadModel } from '../../client-sdk/connection.ts';

let fx: TestFederation | null = null;
let cleanup: (() => void) | null = null;
afterEach(async () => {
  fx?.admin.close();
  await fx?.coordinator.close();
  cleanup?.();
  fx = null;
});

async function rounds(): Promise<RoundMsg[]> {
  return (await callUnary<{ rounds: RoundMsg[] }>(fx!.admin, 'ListRounds', { federationId: fx!.federation.id }, fx!.coordinator.adminToken)).rounds;
}

test('one token hot-polling GetTask is refused with RESOURCE_EXHAUSTED / RATE_LIMITED; another site\'s calls are still served', async () => {
  const dir = tempDataDir();
  cleanup = dir.cleanup;
  fx = await startTestFederation({ dataDir: dir.dir, sites: 3, start: false });
  const hot = participantClient(fx.coordinator.address);
  const calm = participantClient(fx.coordinator.address);
  try {
    // Rate: 200 calls at once from one token (the default allows 20/s plus a burst of 40).
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => getTask(hot, fx!.sites[0]!.token, 0)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(100);
    const err = await expectGrpcError(Promise.reject((refused[0] as PromiseRejectedResult).reason));
    expect(err).toMatchObject({ status: status.RESOURCE_EXHAUSTED, code: 'RATE_LIMITED' });
    // The limited token is still limited, and a calm site is served while it is.
    expect((await expectGrpcError(getTask(hot, fx.sites[0]!.token, 0))).code).toBe('RATE_LIMITED');
    expect((await getTask(calm, fx.sites[2]!.token, 0)).task).toBe('wait');

    // Concurrency: a token holding 4 long polls open gets its 5th refused at once, not queued.
    const polls = Array.from({ length: 4 }, () => getTask(hot, fx!.sites[1]!.token, 3000));
    await new Promise((r) => setTimeout(r, 300));
    const fifth = await expectGrpcError(getTask(hot, fx.sites[1]!.token, 3000));
    expect(fifth).toMatchObject({ status: status.RESOURCE_EXHAUSTED, code: 'RATE_LIMITED' });
    expect(fifth.details).toMatch(/too many open calls/);
    const polled = await Promise.race([Promise.all(polls).then(() => 'polls ended'), getTask(calm, fx.sites[2]!.token, 0).then((t) => t.task)]);
    expect(polled).toBe('wait');
    expect((await Promise.all(polls)).map((t) => t.task)).toEqual(['wait', 'wait', 'wait', 'wait']);
  } finally {
    hot.close();
    calm.close();
  }
});

test('RevokeSite on a selected site that has not submitted ends the round without waiting for the deadline', async () => {
  const dir = tempDataDir();
  cleanup = dir.cleanup;
  fx = await startTestFederation({ dataDir: dir.dir, sites: 3, minSites: 2, roundDeadlineMs: 60_000 });
  const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
  const client = participantClient(fx.coordinator.address);
  try {
    const model = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
    const update = (layout: TensorSpec[], values: Float32Array, roundId: string): StageStreamMsg[] => [
      { part: 'header', header: { roundId, stage: 'submit', tensor: makeHeader(layout, values), body: 'update', update: { numExamples: 10, trainLoss: 0.5, trainAccuracy: 0.5, unclipped: false } } },
      ...[...chunksOf(values)].map((chunk): StageStreamMsg => ({ part: 'chunk', chunk })),
    ];
    const zeros = new Float32Array(model.values.length);
    await rawSubmit(client, fx.sites[0]!.token, update(model.layout, zeros, plans[0]!.roundId));
    await rawSubmit(client, fx.sites[1]!.token, update(model.layout, zeros, plans[1]!.roundId));
    expect((await rounds())[0]!.state).toBe('collecting');
    await callUnary(fx.admin, 'RevokeSite', { federationId: fx.federation.id, siteId: fx.sites[2]!.siteId }, fx.coordinator.adminToken);
    for (let i = 0; i < 50 && (await rounds())[0]!.state === 'collecting'; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await rounds())[0]!.state).toBe('committed');
  } finally {
    client.close();
  }
});
