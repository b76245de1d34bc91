import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { SignJWT, generateKeyPair } from 'jose';
import { callUnary, downloadModel, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import { chunksOf, makeHeader, sha256OfFloats, CHUNK_BYTES, type RoundPlanMsg, type TensorSpec, type StageStreamMsg, type ModelVersionMsg, type RoundMsg } from '../../protocols/index.ts';
import { issueToken } from '../../crypto/tokens.ts';
import { loadOrCreateKeys } from '../../coordinator/keys.ts';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { expectGrpcError, plansFor, rawSubmit } from '../helpers/raw-site.ts';

let fx: TestFederation;
let cleanup: () => void;
let dataDir: string;
let plans: RoundPlanMsg[];
let layout: TensorSpec[];
let base: Float32Array;
let site: ReturnType<typeof participantClient>;

function updateMessages(roundId: string, values: Float32Array, overrides: { layout?: TensorSpec[]; sha256?: Buffer; numExamples?: number } = {}): StageStreamMsg[] {
  const tensor = makeHeader(layout, values);
  return [
    {
      part: 'header',
      header: {
        roundId, stage: 'submit', tensor: { ...tensor, layout: overrides.layout ?? layout, sha256: overrides.sha256 ?? tensor.sha256 },
        body: 'update', update: { numExamples: overrides.numExamples ?? 10, trainLoss: 0, trainAccuracy: 0, unclipped: false },
      },
    },
    ...[...chunksOf(values)].map((chunk): StageStreamMsg => ({ part: 'chunk', chunk })),
  ];
}

beforeAll(async () => {
  ({ dir: dataDir, cleanup } = tempDataDir());
  fx = await startTestFederation({ dataDir, sites: 2, rounds: 2, roundDeadlineMs: 60_000 });
  plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
  const client = participantClient(fx.coordinator.address);
  const model = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
  client.close();
  layout = model.layout;
  base = model.values;
  site = participantClient(fx.coordinator.address);
});

afterAll(async () => {
  site?.close();
  fx?.admin.close();
  await fx?.coordinator.close();
  cleanup?.();
});

function client() {
  return site;
}

describe('authentication', () => {
  test('no token is UNAUTHENTICATED', async () => {
    const err = await expectGrpcError(rawSubmit(client(), null, updateMessages(plans[0]!.roundId, new Float32Array(base.length))));
    expect(err.status).toBe(status.UNAUTHENTICATED);
  });

  test('a token signed by another key is UNAUTHENTICATED', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({ role: 'site', fed: fx.federation.id }).setProtectedHeader({ alg: 'EdDSA' }).setSubject(fx.sites[0]!.siteId)
      .setIssuer('conclave-coordinator').setAudience('conclave.v1').setJti('x').setIssuedAt().setExpirationTime('1h').sign(privateKey);
    const err = await expectGrpcError(callUnary(client(), 'GetTask', { waitMs: 0 }, forged));
    expect(err.status).toBe(status.UNAUTHENTICATED);
  });

  test('an expired token is UNAUTHENTICATED', async () => {
    const { keys } = await loadOrCreateKeys(dataDir);
    const issued = await issueToken(keys, { subject: fx.sites[0]!.siteId, role: 'site', federationId: fx.federation.id, ttlSeconds: 1 });
    fx.coordinator.store.db.prepare('INSERT INTO tokens (id, subject, role, federation_id, expires_s) VALUES (?, ?, ?, ?, ?)')
      .run(issued.tokenId, fx.sites[0]!.siteId, 'site', fx.federation.id, issued.expiresAt);
    // Accepted while valid (its verification is then kept), refused once it expired all the same.
    await callUnary(client(), 'GetTask', { waitMs: 0 }, issued.token);
    await new Promise((r) => setTimeout(r, 2100));
    const err = await expectGrpcError(callUnary(client(), 'GetTask', { waitMs: 0 }, issued.token));
    expect(err).toMatchObject({ status: status.UNAUTHENTICATED, code: 'TOKEN_EXPIRED' });
  });

  test('streamed downloads fail with a status, not a hang: no token, another federation, a missing version', async () => {
    expect((await expectGrpcError(downloadModel(client(), 'not-a-token', { federationId: fx.federation.id, version: 0 }))).status).toBe(status.UNAUTHENTICATED);
    expect((await expectGrpcError(downloadModel(client(), fx.sites[0]!.token, { federationId: 'another-federation', version: 0 }))).status).toBe(status.PERMISSION_DENIED);
    expect((await expectGrpcError(downloadModel(client(), fx.sites[0]!.token, { federationId: fx.federation.id, version: 99 }))).status).toBe(status.NOT_FOUND);
  });

  test('a site token cannot call the admin service', async () => {
    const err = await expectGrpcError(callUnary(fx.admin, 'ListModels', { federationId: fx.federation.id }, fx.sites[0]!.token));
    expect(err.status).toBe(status.PERMISSION_DENIED);
  });

  test('a revoked site is PERMISSION_DENIED on every call', async () => {
    const extra = await callUnary<{ siteId: string; token: string }>(fx.admin, 'EnrollSite', { federationId: fx.federation.id, siteName: 'to-revoke' }, fx.coordinator.adminToken);
    await callUnary(client(), 'GetTask', { waitMs: 0 }, extra.token);
    await callUnary(fx.admin, 'RevokeSite', { federationId: fx.federation.id, siteId: extra.siteId }, fx.coordinator.adminToken);
    const err = await expectGrpcError(callUnary(client(), 'GetTask', { waitMs: 0 }, extra.token));
    expect(err).toMatchObject({ status: status.PERMISSION_DENIED, code: 'TOKEN_REVOKED' });
  });
});

describe('malformed updates are refused and change nothing', () => {
  const submissions = () => (fx.coordinator.store.db.prepare('SELECT COUNT(*) AS n FROM submissions').get() as { n: number }).n;

  test('wrong layout is INVALID_ARGUMENT', async () => {
    const wrong = layout.map((t, i) => (i === 0 ? { ...t, name: 'not-a-layer/kernel' } : t));
    const err = await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, updateMessages(plans[0]!.roundId, new Float32Array(base.length), { layout: wrong })));
    expect(err).toMatchObject({ status: status.INVALID_ARGUMENT, code: 'LAYOUT_MISMATCH' });
    expect(submissions()).toBe(0);
  });

  test('wrong length is INVALID_ARGUMENT', async () => {
    const msgs = updateMessages(plans[0]!.roundId, new Float32Array(base.length));
    const last = msgs.at(-1)!;
    if (last.part !== 'chunk') throw new Error('unexpected');
    msgs[msgs.length - 1] = { part: 'chunk', chunk: { index: last.chunk.index, data: last.chunk.data.subarray(0, last.chunk.data.length - 4) } };
    const err = await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, msgs));
    expect(err.status).toBe(status.INVALID_ARGUMENT);
    expect(submissions()).toBe(0);
  });

  test.each([NaN, Infinity, -Infinity])('a %s value is INVALID_ARGUMENT', async (bad) => {
    const values = new Float32Array(base.length);
    values[values.length - 3] = bad;
    const err = await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, updateMessages(plans[0]!.roundId, values)));
    expect(err).toMatchObject({ status: status.INVALID_ARGUMENT, code: 'NON_FINITE_VALUE' });
    expect(submissions()).toBe(0);
  });

  test('a digest that does not match the chunks is DATA_LOSS', async () => {
    const err = await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, updateMessages(plans[0]!.roundId, new Float32Array(base.length), { sha256: Buffer.alloc(32, 7) })));
    expect(err).toMatchObject({ status: status.DATA_LOSS, code: 'DIGEST_MISMATCH' });
    expect(submissions()).toBe(0);
  });

  test('a message over the size limit is RESOURCE_EXHAUSTED', async () => {
    const huge: StageStreamMsg = { part: 'chunk', chunk: { index: 0, data: Buffer.alloc(5 * CHUNK_BYTES) } };
    const [header] = updateMessages(plans[0]!.roundId, new Float32Array(base.length));
    const err = await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, [header!, huge]));
    expect(err.status).toBe(status.RESOURCE_EXHAUSTED);
    expect(submissions()).toBe(0);
  });

  test('a stream without a header, or with an unknown round, is refused', async () => {
    const chunksOnly = updateMessages(plans[0]!.roundId, new Float32Array(base.length)).slice(1);
    expect((await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, chunksOnly))).status).toBe(status.INVALID_ARGUMENT);
    expect((await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, updateMessages('no-such-round', new Float32Array(base.length))))).status).toBe(status.NOT_FOUND);
    expect((await expectGrpcError(rawSubmit(client(), fx.sites[0]!.token, updateMessages(plans[0]!.roundId, new Float32Array(base.length), { numExamples: 0 })))).status).toBe(status.INVALID_ARGUMENT);
  });

  test('after all that, valid updates aggregate to exactly the weighted mean, then duplicates and late updates are refused', async () => {
    const deltaA = new Float32Array(base.length).fill(0.5);
    const deltaB = new Float32Array(base.length).fill(-0.25);
    await submitUpdate(client(), fx.sites[0]!.token, { roundId: plans[0]!.roundId, numExamples: 30, layout, values: deltaA, trainLoss: 1, trainAccuracy: 0.5 });
    const dup = await expectGrpcError(submitUpdate(client(), fx.sites[0]!.token, { roundId: plans[0]!.roundId, numExamples: 30, layout, values: deltaA, trainLoss: 1, trainAccuracy: 0.5 }));
    expect(dup).toMatchObject({ status: status.ALREADY_EXISTS, code: 'DUPLICATE_SUBMISSION' });
    await submitUpdate(client(), fx.sites[1]!.token, { roundId: plans[1]!.roundId, numExamples: 10, layout, values: deltaB, trainLoss: 1, trainAccuracy: 0.5 });
    // The SDK sends the digest in the last chunk: the submission still records the update's digest.
    const recorded = fx.coordinator.store.db.prepare('SELECT sha256 FROM submissions WHERE site_id = ?').get(fx.sites[0]!.siteId) as { sha256: Uint8Array };
    expect(Buffer.from(recorded.sha256).equals(sha256OfFloats(deltaA))).toBe(true);
    // Round 1 closes once both selected sites submitted.
    let rounds: RoundMsg[] = [];
    for (let i = 0; i < 50; i++) {
      ({ rounds } = await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId: fx.federation.id }, fx.coordinator.adminToken));
      if (rounds[0]?.state === 'committed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rounds[0]).toMatchObject({ state: 'committed', resultVersion: 1, totalExamples: 40 });
    const v1 = await downloadModel(client(), fx.sites[0]!.token, { federationId: fx.federation.id, version: 1 });
    const expected = (30 * 0.5 + 10 * -0.25) / 40;
    for (let i = 0; i < base.length; i += 997) expect(v1.values[i]).toBeCloseTo(base[i]! + expected, 6);
    const late = await expectGrpcError(submitUpdate(client(), fx.sites[1]!.token, { roundId: plans[0]!.roundId, numExamples: 10, layout, values: deltaB, trainLoss: 1, trainAccuracy: 0.5 }));
    expect(late.status).toBe(status.ALREADY_EXISTS);
    const { models } = await callUnary<{ models: ModelVersionMsg[] }>(fx.admin, 'ListModels', { federationId: fx.federation.id }, fx.coordinator.adminToken);
    expect(models.map((m) => m.version)).toEqual([0, 1]);
  });
});
