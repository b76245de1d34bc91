/**
 * Resumable transfers over real gRPC: a TCP proxy between a site and the coordinator cuts the
 * connection mid-stream; the retry (same progress object, as the Participant's reconnect loop
 * passes it) must move only the remainder through the proxy, and the result must be bit-identical.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import {
  DownloadProgress, UploadProgress, callUnary, downloadModel, getTask, participantClient, submitStage,
} from '../../client-sdk/connection.ts';
import {
  CHUNK_BYTES, ConclaveError, bearerMetadata, chunksOf, fromServiceError, makeHeader, sha256OfFloats, type FederationMsg, type RoundPlanMsg, type TensorSpec,
} from '../../protocols/index.ts';
import { resumeOffset } from '../../coordinator/transfer-resume.ts';

const CHUNKS = 8;
const ELEMENTS = (CHUNKS * CHUNK_BYTES) / 4;
const layout: TensorSpec[] = [{ name: 'big/w', shape: [ELEMENTS], dtype: 'float32' }];

interface Conn { up: number; down: number }

/** Forwards to `port`; the first connection after `cutAfter(...)` is destroyed once that many bytes went that way. */
async function startProxy(port: number) {
  const conns: Conn[] = [];
  const sockets: Socket[] = [];
  let rule: { dir: 'up' | 'down'; bytes: number } | null = null;
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.push(client, upstream);
    const conn: Conn = { up: 0, down: 0 };
    conns.push(conn);
    const cut = rule;
    rule = null;
    const forward = (from: Socket, to: Socket, dir: 'up' | 'down') => from.on('data', (data: Buffer) => {
      if (cut?.dir === dir && conn[dir] + data.length >= cut.bytes) {
        to.write(data.subarray(0, cut.bytes - conn[dir]));
        conn[dir] = cut.bytes;
        client.destroy();
        upstream.destroy();
        return;
      }
      conn[dir] += data.length;
      to.write(data);
    });
    forward(client, upstream, 'up');
    forward(upstream, client, 'down');
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    conns,
    cutAfter(dir: 'up' | 'down', bytes: number) { rule = { dir, bytes }; },
    /** Bytes that went each way over connections opened from index `from` on. */
    since(from: number): Conn {
      return conns.slice(from).reduce((a, c) => ({ up: a.up + c.up, down: a.down + c.down }), { up: 0, down: 0 });
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function pattern(seed: number): Float32Array {
  const v = new Float32Array(ELEMENTS);
  for (let i = 0; i < v.length; i++) v[i] = Math.fround(Math.sin(i * 0.001 + seed) * 1e-2);
  return v;
}

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** One site; version 1 = an 8-chunk tensor written the way a commit writes it (round 1 is based on it). */
async function setup(base: Float32Array): Promise<TestFederation> {
  const data = tempDataDir();
  const t = await startTestFederation({ dataDir: data.dir, sites: 1, rounds: 1, start: false, roundDeadlineMs: 120_000 });
  cleanups.push(data.cleanup, () => t.coordinator.close(), () => t.admin.close());
  const { blobPath, sha256 } = await t.coordinator.registry.writeBlob(t.federation.id, 1, base);
  t.coordinator.registry.insertVersion({
    federationId: t.federation.id, version: 1, parentVersion: 0, roundId: null, sha256, numParameters: ELEMENTS, layout, blobPath, metrics: {},
  });
  return t;
}

describe('resumable transfers', () => {
  it('a cut download resumes from the last verified chunk and is bit-identical', async () => {
    const base = pattern(1);
    const t = await setup(base);
    const proxy = await startProxy(t.coordinator.port);
    cleanups.push(() => proxy.close());
    const client = participantClient(proxy.address);
    cleanups.push(() => client.close());
    const token = t.sites[0]!.token;
    const progress = new DownloadProgress();

    proxy.cutAfter('down', 5 * CHUNK_BYTES);
    const cut = await downloadModel(client, token, { federationId: t.federation.id, version: 1 }, progress).then(() => null, (e: unknown) => e);
    expect(cut).toBeInstanceOf(ConclaveError);
    expect((cut as ConclaveError).code).toBe('UNAVAILABLE');
    const kept = progress.assembler!.receivedChunks;
    expect(kept).toBeGreaterThanOrEqual(3);
    expect(kept).toBeLessThan(CHUNKS);

    const before = proxy.conns.length;
    const model = await downloadModel(client, token, { federationId: t.federation.id, version: 1 }, progress);
    expect(progress.lastAttemptChunks).toBe(CHUNKS - kept);
    // Only the remainder crossed the wire again (plus headers and HTTP/2 framing).
    expect(proxy.since(before).down).toBeLessThan((CHUNKS - kept) * CHUNK_BYTES + 64 * 1024);
    expect(Buffer.from(model.values.buffer).equals(Buffer.from(base.buffer))).toBe(true);
    expect(model.sha256.equals(sha256OfFloats(base))).toBe(true);
    expect(progress.assembler).toBeNull();
  }, 60_000);

  it('a cut upload resumes from the chunks the coordinator kept and commits the same bytes', async () => {
    const t = await setup(new Float32Array(ELEMENTS));
    const direct = participantClient(t.coordinator.address);
    const proxy = await startProxy(t.coordinator.port);
    const client = participantClient(proxy.address);
    cleanups.push(() => direct.close(), () => proxy.close(), () => client.close());
    const token = t.sites[0]!.token;
    await callUnary<FederationMsg>(t.admin, 'StartFederation', { federationId: t.federation.id }, t.coordinator.adminToken);
    let plan: RoundPlanMsg | null = null;
    for (let i = 0; i < 50 && !plan; i++) {
      const task = await getTask(direct, token, 2_000);
      if (task.task === 'round') plan = task.round;
    }
    expect(plan?.modelVersion).toBe(1);
    const delta = pattern(2);
    const message = {
      roundId: plan!.roundId, stage: 'submit', body: 'update' as const,
      update: { numExamples: 10, trainLoss: 0.5, trainAccuracy: 0.5, unclipped: false }, tensor: { layout, values: delta },
    };
    const progress = new UploadProgress();

    proxy.cutAfter('up', 5 * CHUNK_BYTES);
    const cut = await submitStage(client, token, message, progress).then(() => null, (e: unknown) => e);
    expect((cut as ConclaveError).code).toBe('UNAVAILABLE');

    const before = proxy.conns.length;
    const res = await submitStage(client, token, message, progress);
    expect(res.received).toBe(1);
    const from = progress.lastAttemptFrom;
    expect(from).toBeGreaterThanOrEqual(3);
    expect(from).toBeLessThan(CHUNKS);
    expect(proxy.since(before).up).toBeLessThan((CHUNKS - from) * CHUNK_BYTES + 64 * 1024);

    // One site with all the weight: version 2 = 0 + delta, so it holds the uploaded bytes exactly.
    let next = null;
    for (let i = 0; i < 100 && !next; i++) {
      next = await downloadModel(direct, token, { federationId: t.federation.id, version: 2 }).catch(() => null);
      if (!next) await new Promise((r) => setTimeout(r, 50));
    }
    expect(next).not.toBeNull();
    expect(Buffer.from(next!.values.buffer).equals(Buffer.from(delta.buffer))).toBe(true);
  }, 60_000);

  it('refuses resume offsets outside the blob, a digest that changed, and a resumption with nothing kept', async () => {
    const header = { sha256: Buffer.alloc(32, 1), chunkCount: 8 };
    expect(resumeOffset({ fromChunk: 0, expectedSha256: Buffer.alloc(0) }, header)).toBe(0);
    expect(resumeOffset({ fromChunk: 7, expectedSha256: Buffer.alloc(32, 1) }, header)).toBe(7);
    expect(() => resumeOffset({ fromChunk: 8, expectedSha256: Buffer.alloc(32, 1) }, header)).toThrow(/outside/);
    expect(() => resumeOffset({ fromChunk: 2, expectedSha256: Buffer.alloc(0) }, header)).toThrow(/expected_sha256/);
    expect(() => resumeOffset({ fromChunk: 2, expectedSha256: Buffer.alloc(32, 2) }, header)).toThrow(expect.objectContaining({ code: 'RESUME_MISMATCH' }));

    const t = await setup(pattern(3));
    const client = participantClient(t.coordinator.address);
    cleanups.push(() => client.close());
    const token = t.sites[0]!.token;
    const ask = (fromChunk: number, expectedSha256: Buffer) => new Promise<unknown>((resolve) => {
      const stream = client.DownloadModel({ federationId: t.federation.id, version: 1, fromChunk, expectedSha256 }, bearerMetadata(token));
      stream.on('data', () => undefined);
      stream.on('error', (e: { code: number }) => resolve(e.code));
      stream.on('end', () => resolve('ok'));
    });
    const sha = sha256OfFloats(pattern(3));
    expect(await ask(CHUNKS, sha)).toBe(3); // INVALID_ARGUMENT
    expect(await ask(2, Buffer.alloc(32))).toBe(9); // FAILED_PRECONDITION (RESUME_MISMATCH)
    expect(await ask(CHUNKS - 1, sha)).toBe('ok');

    // A header that claims to resume an upload the coordinator never saw is refused, not accepted short.
    await callUnary<FederationMsg>(t.admin, 'StartFederation', { federationId: t.federation.id }, t.coordinator.adminToken);
    let plan: RoundPlanMsg | null = null;
    for (let i = 0; i < 50 && !plan; i++) {
      const task = await getTask(client, token, 2_000);
      if (task.task === 'round') plan = task.round;
    }
    const values = pattern(4);
    const kept = await callUnary<{ nextChunk: number }>(client, 'ResumeStage', { roundId: plan!.roundId, stage: 'submit', tensorSha256: sha256OfFloats(values) }, token);
    expect(kept.nextChunk).toBe(0);
    const refused = await new Promise<ConclaveError>((resolve) => {
      const stream = client.SubmitStage(bearerMetadata(token), (err) => resolve(fromServiceError(err)));
      stream.write({ part: 'header', header: {
        roundId: plan!.roundId, stage: 'submit', body: 'update', update: { numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false },
        tensor: makeHeader(layout, values), resumeFromChunk: 3,
      } });
      for (const chunk of chunksOf(values, 3)) stream.write({ part: 'chunk', chunk });
      stream.end();
    });
    expect(refused.code).toBe('RESUME_MISMATCH');
    // The SDK's retry asks first (ResumeStage says 0 here) and then sends the message whole.
    const message = {
      roundId: plan!.roundId, stage: 'submit', body: 'update' as const,
      update: { numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false }, tensor: { layout, values },
    };
    const retry = new UploadProgress();
    retry.message = message;
    retry.attempts = 1;
    await expect(submitStage(client, token, message, retry)).resolves.toMatchObject({ received: 1 });
    expect(retry.lastAttemptFrom).toBe(0);
  }, 60_000);
});
