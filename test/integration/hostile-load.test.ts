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

test('one token hot-polling GetTask is throttled; another site\'s calls still answer at once', async () => {
  const dir = tempDataDir();
  cleanup = dir.cleanup;
  fx = await startTestFederation({ dataDir: dir.dir, sites: 2, start: false });
  const hot = participantClient(fx.coordinator.address);
  const calm = participantClient(fx.coordinator.address);
  try {
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => getTask(hot, fx!.sites[0]!.token, 0)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(100);
    const err = await expectGrpcError(Promise.reject((refused[0] as PromiseRejectedResult).reason));
    expect(err.status).toBe(status.UNAVAILABLE);
    const t0 = performance.now();
    expect((await getTask(calm, fx.sites[1]!.token, 0)).task).toBe('wait');
    expect(performance.now() - t0).toBeLessThan(200);
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
