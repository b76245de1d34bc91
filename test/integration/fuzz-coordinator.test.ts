/**
 * Issue 13's fuzzing acceptance: 10,000 random and mutated participant messages (valid-looking
 * headers with hostile fields, random bytes, out-of-order stage messages, hostile tokens) to a
 * live coordinator over real gRPC. Each must get a specific status (never UNKNOWN or INTERNAL),
 * the coordinator stays up, a legitimate federation running beside it completes, and what it
 * stores changes only through its legitimate rounds.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { callUnary, downloadModel, getTask, participantClient } from '../../client-sdk/connection.ts';
import {
  bearerMetadata, chunksOf, makeHeader, type ModelVersionMsg, type ParticipantClient, type RoundMsg, type StageHeaderMsg, type StageStreamMsg, type TensorSpec,
} from '../../protocols/index.ts';
import { createZooFederation, startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { plansFor, rawSubmit } from '../helpers/raw-site.ts';

const RUNS = 10_000;
const WORKERS = 8;
const HOSTILE_SITES = 40;
/** What "a specific status" excludes: the coordinator did not know what went wrong, or the client gave up. */
const UNSPECIFIC = new Set([grpc.status.UNKNOWN, grpc.status.INTERNAL, grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED]);

let fx: TestFederation;
let cleanup: () => void;
let hostileTokens: string[];
let hostileRounds: string[] = [];
let layout: TensorSpec[];
let modelSize: number;

beforeAll(async () => {
  const dir = tempDataDir();
  cleanup = dir.cleanup;
  fx = await startTestFederation({ dataDir: dir.dir, sites: 2, rounds: 2, roundDeadlineMs: 60_000 });
  const hostile = await createZooFederation(fx.admin, fx.coordinator.adminToken, {
    name: 'hostile', model: 'mlp', rounds: 100_000, sitesPerRound: HOSTILE_SITES, minSites: 1, roundDeadlineMs: 1500, seed: 1, protection: 'none',
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' }, privacy: null,
  });
  hostileTokens = [];
  for (let i = 0; i < HOSTILE_SITES; i++) {
    const { token } = await callUnary<{ token: string }>(fx.admin, 'EnrollSite', { federationId: hostile.id, siteName: `h-${i}`, budgetEpsilon: 0, sampleRate: 0 }, fx.coordinator.adminToken);
    hostileTokens.push(token);
  }
  await callUnary(fx.admin, 'StartFederation', { federationId: hostile.id }, fx.coordinator.adminToken);
  const client = participantClient(fx.coordinator.address);
  const model = await downloadModel(client, hostileTokens[0]!, { federationId: hostile.id, version: 0 });
  client.close();
  layout = model.layout;
  modelSize = model.values.length;
});

afterAll(async () => {
  fx?.admin.close();
  await fx?.coordinator.close();
  cleanup?.();
});

// --- arbitraries ------------------------------------------------------------------------------------

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constant('r'.repeat(65_536)));
const u64 = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 1e9, 1e9 + 1, 2 ** 32, Number.MAX_SAFE_INTEGER));
const anyDouble = fc.oneof(fc.double(), fc.constantFrom(0, 0.5, 1e308, -1e308, NaN, Infinity, -Infinity));
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

const roundId = fc.oneof(
  fc.nat().map((i) => hostileRounds[i % Math.max(1, hostileRounds.length)] ?? ''),
  text,
);
const specArb: fc.Arbitrary<TensorSpec> = fc.record({
  name: text, shape: fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 4 }), dtype: fc.constantFrom('float32', 'uint32', 'int8', ''),
}) as fc.Arbitrary<TensorSpec>;
/** A tensor header: the model's own (its digest over zeros), or one with hostile fields. */
const tensorHeader = fc.oneof(
  fc.constant('valid' as const),
  fc.record({ layout: fc.oneof(fc.constant(null), fc.array(specArb, { maxLength: 3 })), totalElements: u64, sha256: bytes(40), chunkCount: fc.nat({ max: 1 << 20 }) }),
  fc.constant(null),
);
const body = fc.oneof(
  fc.record({ numExamples: u64, trainLoss: anyDouble, trainAccuracy: anyDouble, unclipped: fc.boolean() }).map((update) => ({ body: 'update' as const, update })),
  bytes(64).map((data) => ({ body: 'opaque' as const, opaque: { data } })),
  fc.constant({}),
);
const header = fc.record({ roundId, stage: fc.oneof(fc.constantFrom('submit', 'confirm'), text), body, tensor: tensorHeader });
const chunk = fc.record({ index: fc.nat({ max: 1 << 20 }), data: bytes(2048) });

type HeaderSpec = { roundId: string; stage: string; body: object; tensor: unknown };
type Part = { kind: 'header'; h: HeaderSpec } | { kind: 'chunk'; c: { index: number; data: Buffer } } | { kind: 'valid-chunks'; from: number; count: number };
const part: fc.Arbitrary<Part> = fc.oneof(
  { weight: 3, arbitrary: header.map((h) => ({ kind: 'header' as const, h })) },
  { weight: 2, arbitrary: chunk.map((c) => ({ kind: 'chunk' as const, c })) },
  { weight: 1, arbitrary: fc.record({ from: fc.nat({ max: 200 }), count: fc.integer({ min: 1, max: 3 }) }).map((r) => ({ kind: 'valid-chunks' as const, ...r })) },
);

type Action =
  | { rpc: 'submit'; token: number | 'forged' | 'none'; parts: Part[] }
  | { rpc: 'raw'; token: number; data: Buffer }
  | { rpc: 'getTask'; token: number | 'forged'; waitMs: number }
  | { rpc: 'download'; token: number; version: number; latest: boolean; federationId: string };
const token = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: HOSTILE_SITES - 1 }) }, { weight: 1, arbitrary: fc.constantFrom('forged' as const, 'none' as const) });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ rpc: fc.constant('submit' as const), token, parts: fc.array(part, { maxLength: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ rpc: fc.constant('raw' as const), token: fc.nat({ max: HOSTILE_SITES - 1 }), data: bytes(256) }) },
  { weight: 2, arbitrary: fc.record({ rpc: fc.constant('getTask' as const), token: fc.oneof(fc.nat({ max: HOSTILE_SITES - 1 }), fc.constant('forged' as const)), waitMs: fc.nat({ max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ rpc: fc.constant('download' as const), token: fc.nat({ max: HOSTILE_SITES - 1 }), version: fc.nat(), latest: fc.boolean(), federationId: text }) },
);

// --- sending ----------------------------------------------------------------------------------------

const FORGED = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.';
const zeros = () => new Float32Array(modelSize);

function toMessages(parts: Part[]): StageStreamMsg[] {
  const values = zeros();
  const valid = makeHeader(layout, values);
  const allChunks = [...chunksOf(values)];
  const out: StageStreamMsg[] = [];
  for (const p of parts) {
    if (p.kind === 'header') {
      const tensor = p.h.tensor === 'valid' ? valid : p.h.tensor === null ? null : { ...(p.h.tensor as object), layout: (p.h.tensor as { layout: TensorSpec[] | null }).layout ?? layout };
      out.push({ part: 'header', header: { roundId: p.h.roundId, stage: p.h.stage, tensor, ...p.h.body } as StageHeaderMsg });
    } else if (p.kind === 'chunk') {
      out.push({ part: 'chunk', chunk: p.c });
    } else {
      for (const c of allChunks.slice(p.from, p.from + p.count)) out.push({ part: 'chunk', chunk: c });
    }
  }
  return out;
}

/** Longest error text seen: errors quote attacker input only truncated. */
let longestDetails = 0;

function statusOf(err: unknown): number {
  const details = (err as { details?: unknown; message?: unknown })?.details ?? (err as { message?: unknown })?.message;
  if (typeof details === 'string') longestDetails = Math.max(longestDetails, details.length);
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'number') return code;
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof cause === 'number') return cause;
  throw new Error(`no gRPC status in ${String(err)}`);
}

function rawBytes(client: ParticipantClient, tokenValue: string, data: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const call = (client as unknown as grpc.Client).makeClientStreamRequest(
      '/conclave.v1.ParticipantService/SubmitStage', (b: Buffer) => b, (b: Buffer) => b, bearerMetadata(tokenValue),
      // Bytes that are not a protobuf message are refused as INVALID_ARGUMENT before any handler runs (protocols/grpc.ts).
      (err) => resolve(!err ? grpc.status.OK : err.code),
    );
    call.write(data);
    call.end();
  });
}

async function send(client: ParticipantClient, a: Action): Promise<number> {
  const tok = (t: number | 'forged' | 'none') => (t === 'forged' ? FORGED : t === 'none' ? null : hostileTokens[t]!);
  try {
    switch (a.rpc) {
      case 'submit':
        await rawSubmit(client, tok(a.token), toMessages(a.parts));
        return grpc.status.OK;
      case 'raw':
        return await rawBytes(client, hostileTokens[a.token]!, a.data);
      case 'getTask': {
        const task = await getTask(client, tok(a.token)!, a.waitMs);
        if (task.task === 'round') hostileRounds = [...hostileRounds.slice(-7), task.round.roundId];
        return grpc.status.OK;
      }
      case 'download':
        await downloadModel(client, hostileTokens[a.token]!, { federationId: a.federationId, version: a.version, latest: a.latest });
        return grpc.status.OK;
    }
  } catch (err) {
    return statusOf(err);
  }
}

// --- the legitimate federation beside it ------------------------------------------------------------

async function legitimateFederation(): Promise<void> {
  const client = participantClient(fx.coordinator.address);
  try {
    for (let round = 0; round < 2; round++) {
      const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
      const base = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: plans[0]!.modelVersion });
      await Promise.all(fx.sites.map((s, i) => {
        const values = Float32Array.from(base.values, () => 0.001 * (i + 1));
        const messages: StageStreamMsg[] = [
          { part: 'header', header: { roundId: plans[i]!.roundId, stage: 'submit', tensor: makeHeader(base.layout, values), body: 'update', update: { numExamples: 10, trainLoss: 0.5, trainAccuracy: 0.5, unclipped: false } } },
          ...[...chunksOf(values)].map((c): StageStreamMsg => ({ part: 'chunk', chunk: c })),
        ];
        return rawSubmit(client, s.token, messages);
      }));
    }
  } finally {
    client.close();
  }
}

test(`${RUNS} random and mutated messages each get a specific status; a legitimate federation beside them completes unchanged by them`, async () => {
  const before = await callUnary<{ models: ModelVersionMsg[] }>(fx.admin, 'ListModels', { federationId: fx.federation.id }, fx.coordinator.adminToken);
  expect(before.models.map((m) => m.version)).toEqual([0]);
  const legit = legitimateFederation();
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
    const client = participantClient(fx.coordinator.address);
    try {
      await fc.assert(fc.asyncProperty(action, async (a) => {
        const code = await send(client, a);
        statuses.set(code, (statuses.get(code) ?? 0) + 1);
        expect(UNSPECIFIC.has(code), `status ${grpc.status[code]} for ${JSON.stringify(a).slice(0, 300)}`).toBe(false);
      }), { numRuns: RUNS / WORKERS, seed: 1000 + w, endOnFailure: true });
    } finally {
      client.close();
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  await legit;
  expect(longestDetails).toBeLessThan(1024);
  console.log(`fuzz: ${RUNS} messages in ${seconds.toFixed(1)} s; longest error ${longestDetails} chars;`, Object.fromEntries([...statuses].map(([c, n]) => [grpc.status[c], n])));

  // The coordinator is up and the legitimate federation finished its two rounds, by its own sites only.
  const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId: fx.federation.id }, fx.coordinator.adminToken);
  expect(rounds.map((r) => r.state)).toEqual(['committed', 'committed']);
  const legitIds = new Set(fx.sites.map((s) => s.siteId));
  for (const r of rounds) expect(r.submittedSites.every((id) => legitIds.has(id))).toBe(true);
  const after = await callUnary<{ models: ModelVersionMsg[] }>(fx.admin, 'ListModels', { federationId: fx.federation.id }, fx.coordinator.adminToken);
  expect(after.models.map((m) => m.version)).toEqual([0, 1, 2]);
  expect(after.models.slice(1).map((m) => m.roundId)).toEqual(rounds.map((r) => r.id));
  // Both updates were all 0.001·(i + 1) with equal weights: the model moved by exactly 0.0015 per round.
  const client = participantClient(fx.coordinator.address);
  try {
    const v0 = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
    const v2 = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 2 });
    for (let i = 0; i < v0.values.length; i += 997) expect(v2.values[i]! - v0.values[i]!).toBeCloseTo(0.003, 5);
  } finally {
    client.close();
  }
}, 300_000);
