/**
 * Model transfer throughput: gRPC (the real participant service) vs raw TCP, on 127.0.0.1.
 *
 *   node_modules/.bin/node bench/transfer.ts [--sizes 1,16,64] [--reps 3] [--warmup 3] [--client-process]
 *
 * Default: one process holds both ends of every transfer (as in the integration tests), so client
 * and server share one event loop in both the gRPC and the TCP runs: every byte's work on both
 * sides is added up on one thread. --client-process runs the site's side of every variant (gRPC
 * and TCP alike) in a child process, as a site and a coordinator are deployed: each side on its
 * own thread, timed in the child (call to answer), driven over IPC outside the timed window.
 *
 * gRPC download: a real coordinator (startCoordinator) on a temp data dir; for each size a model
 *   version holding a single float32 tensor of that size is written to the registry, and an
 *   enrolled site fetches it with client-sdk downloadModel → ParticipantService.DownloadModel.
 *   Timed: the whole call = token check, the verified weights (servedWeights: read from disk and
 *   digest-checked on the first download of a version, the warm-up here, then kept), header, 1 MiB
 *   chunks under HTTP/2 flow control, client-side reassembly with finiteness and SHA-256 checks.
 * gRPC upload: the real ParticipantService.SubmitUpdate into an open round. The federation
 *   samples 2 of 2 sites per round; site A's upload is timed, then site B submits (untimed) and
 *   closes the round, so aggregation and the commit (blob write + fsync) stay outside the timed
 *   window. Timed: client-sdk submitUpdate = client SHA-256 of the update, header + 1 MiB chunks,
 *   server-side slot reservation, reassembly with finiteness + SHA-256 checks, FedAvg fold (one
 *   O(d) multiply-add) and the submissions row.
 * TCP: node:net, the same bytes, a length prefix, receiver copies into one buffer and (upload) acks
 *   with one byte. "tcpVerified" additionally hashes on both sides (SHA-256, the sender's digest
 *   follows the payload), i.e. the integrity work gRPC does, without framing/protobuf/HTTP/2.
 * grpc-js bare: the same bytes as 1 MiB messages over a bare grpc-js stream (bytes in, bytes out: no
 *   protobuf, no hashing, no finiteness checks, no tensor, no round), receiver copying into one buffer
 *   as the TCP receiver does; same channel options and windows as the participant service. What
 *   grpc-js and HTTP/2 themselves cost: the ceiling for anything built on them, in the same run.
 * Reported: median MiB/s over --reps timed runs (after --warmup untimed ones) and grpc/tcp ratios. Each
 * repetition runs every variant once (order alternating), so gRPC and TCP see the same load;
 * ratioGrpcTcpPaired is the median of the per-repetition ratios, the steadier one on a busy machine.
 * cpuMs: each variant's median CPU time per run, both ends together: on two cores a transfer cannot
 * take less wall time than half of it. fullGcRuns / *NoFullGc: how many timed runs a full collection
 * (of either process) overlapped, and the medians over the others.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir, cpus, loadavg } from 'node:os';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFederation } from '../protocols/client.ts';
import { collectTransferBuffersWithHeap } from '../protocols/transfer-heap.ts';
import { zooInitialModel } from '../client-sdk/models/initial-model.ts';
import { adminClient, callUnary, downloadModel, getTask, participantClient, submitUpdate } from '../client-sdk/connection.ts';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, CHUNK_BYTES, ParticipantServiceClient, SERVER_OPTIONS, TRANSFER_WINDOW_BYTES, widenServerWindows, type FederationMsg, type RoundPlanMsg, type TensorSpec } from '../protocols/index.ts';

const MiB = 1 << 20;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SIZES_MIB = arg('--sizes', '1,16,64').split(',').map(Number).filter((n) => Number.isFinite(n) && n > 0);
const REPS = Math.max(1, Number(arg('--reps', '3')) || 3);
/**
 * Untimed repetitions first (each runs every variant): gRPC's upload path (client, HTTP/2, stage
 * pipeline, verifier thread) takes several calls to be optimized by V8, raw TCP one; with a single
 * warm-up the first size's gRPC runs were measured half-warm (16 MiB uploads: 200-350 ms in the
 * first calls, 70-90 ms from the fifth on, on a quiet machine).
 */
const WARMUP = Math.max(1, Number(arg('--warmup', '3')) || 3);
/** The site's side (every timed call, gRPC and TCP alike) in a child process; see the header. */
const CLIENT_PROCESS = process.argv.includes('--client-process');

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Deterministic finite values, small enough that FedAvg of many rounds stays finite. */
function tensorOf(bytes: number, seed: number): Float32Array {
  const values = new Float32Array(bytes / 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < values.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    values[i] = (x / 4294967296 - 0.5) * 1e-3;
  }
  return values;
}

/**
 * A timed run: its wall time; on the shared wall clock, when it ran (to match collections of both
 * processes against); and the CPU time (user + system, all threads) it cost its process, plus the
 * coordinator's process across the same call when the site runs in its own.
 */
interface Timed {
  seconds: number;
  startMs: number;
  endMs: number;
  cpuMs: number;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

async function timeIt(fn: () => Promise<void>): Promise<Timed> {
  const startMs = performance.timeOrigin + performance.now();
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, startMs, endMs: startMs + seconds * 1000, cpuMs: cpuMsSince(cpu) };
}

/**
 * This process's full (mark-compact) collections, on the shared wall clock. A 16 MiB transfer
 * leaves ~3 bytes of Buffers per payload byte behind (grpc-js' framing and reassembly copies,
 * HTTP/2's reads), so a full collection lands in some timed runs and not others: runs are split by
 * it, so a bimodal median can be read for what it is.
 */
const majorCollections: Array<{ startMs: number; endMs: number }> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if ((e as { detail?: { kind?: number } }).detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
    const startMs = performance.timeOrigin + e.startTime;
    majorCollections.push({ startMs, endMs: startMs + e.duration });
  }
}).observe({ entryTypes: ['gc'] });

/** Whether a full collection of either process overlapped this run. */
function collectedDuring(run: Timed, collections: ReadonlyArray<{ startMs: number; endMs: number }>): boolean {
  return collections.some((c) => c.startMs < run.endMs && c.endMs > run.startMs);
}

// --- raw TCP --------------------------------------------------------------------------------------
// Frame: 8-byte length, the payload, then (verified runs) the sender's 32-byte SHA-256 of it, which
// the receiver compares with its own: the integrity work gRPC does, without framing/protobuf/HTTP/2.

/** Reads one frame into one buffer, optionally hashing as it goes; resolves once the digest (if any) is checked. */
function receiveInto(socket: Socket, verify: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let header = Buffer.alloc(0);
    let target: Buffer | null = null;
    let filled = 0;
    let trailer = Buffer.alloc(0);
    const hash = verify ? createHash('sha256') : null;
    const done = () => {
      socket.off('data', onData);
      if (hash && !hash.digest().equals(trailer)) reject(new Error('tcp: digest mismatch'));
      else resolve(target!);
    };
    const onData = (chunk: Buffer) => {
      if (!target) {
        header = Buffer.concat([header, chunk]);
        if (header.length < 8) return;
        target = Buffer.allocUnsafe(Number(header.readBigUInt64LE(0)));
        chunk = header.subarray(8);
      }
      const take = Math.min(chunk.length, target.length - filled);
      chunk.copy(target, filled, 0, take);
      hash?.update(chunk.subarray(0, take));
      filled += take;
      if (filled < target.length) return;
      if (verify) {
        trailer = Buffer.concat([trailer, chunk.subarray(take)]);
        if (trailer.length < 32) return;
      }
      done();
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function sendFrom(socket: Socket, payload: Buffer, verify: boolean): Promise<void> {
  const hash = verify ? createHash('sha256') : null;
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(payload.length));
  socket.write(prefix);
  // Same 1 MiB pieces as the gRPC stream, hashed as they go out, honouring backpressure.
  for (let off = 0; off < payload.length; off += CHUNK_BYTES) {
    const piece = payload.subarray(off, Math.min(payload.length, off + CHUNK_BYTES));
    hash?.update(piece);
    if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r));
  }
  if (hash) socket.write(hash.digest());
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Download server: pushes the payload on every new connection. */
async function tcpDownloadServer(payload: Buffer, verify: boolean): Promise<number> {
  const server = createServer({ noDelay: true }, (socket) => {
    sendFrom(socket, payload, verify).then(() => socket.end(), () => socket.destroy());
  });
  servers.push(server);
  return listen(server);
}

/** Download client: times connect → last byte (and its digest checked). */
async function tcpDownloadOnce(port: number, length: number, verify: boolean): Promise<void> {
  const socket = await connectTo(port);
  const bytes = await receiveInto(socket, verify);
  if (bytes.length !== length) throw new Error('tcp download: short read');
  socket.destroy();
}

/** Upload server: acks with one byte once it has all of the payload (and checked its digest). */
async function tcpUploadServer(length: number, verify: boolean): Promise<number> {
  const server = createServer({ noDelay: true }, (socket) => {
    receiveInto(socket, verify).then(
      (bytes) => socket.end(Buffer.from([bytes.length === length ? 1 : 0])),
      () => socket.end(Buffer.from([0])),
    );
  });
  servers.push(server);
  return listen(server);
}

async function tcpUploadOnce(port: number, payload: Buffer, verify: boolean): Promise<void> {
  const socket = await connectTo(port);
  const ack = new Promise<number>((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d[0]!));
    socket.once('error', reject);
  });
  await sendFrom(socket, payload, verify);
  if ((await ack) !== 1) throw new Error('tcp upload: receiver refused the payload');
  socket.destroy();
}

const servers: Server[] = [];

// --- grpc-js bare -------------------------------------------------------------------------------

const passThrough = (b: Buffer): Buffer => b;
const BARE_SERVICE = {
  upload: { path: '/bench.Bare/Upload', requestStream: true, responseStream: false, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough },
  download: { path: '/bench.Bare/Download', requestStream: false, responseStream: true, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough },
} satisfies grpc.ServiceDefinition;

/** A second grpc-js server with the coordinator's message limits and windows; the request of a download says how many bytes. */
async function bareServer(payloads: Map<number, Buffer>): Promise<{ address: string; server: grpc.Server }> {
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(BARE_SERVICE, {
    upload: (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      let target: Buffer | null = null;
      let filled = 0;
      call.on('data', (message: Buffer) => {
        // The first message is the length (8 bytes), as the TCP frame's prefix.
        if (!target) { target = Buffer.allocUnsafe(Number(message.readBigUInt64LE(0))); return; }
        message.copy(target, filled);
        filled += message.length;
      });
      call.on('end', () => callback(null, Buffer.from([target && filled === target.length ? 1 : 0])));
    },
    download: async (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const payload = payloads.get(Number(call.request.readBigUInt64LE(0)))!;
      for (let off = 0; off < payload.length; off += CHUNK_BYTES) {
        if (!call.write(payload.subarray(off, Math.min(payload.length, off + CHUNK_BYTES)))) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  widenServerWindows(server);
  return { address: `127.0.0.1:${port}`, server };
}

const BareClient = grpc.makeGenericClientConstructor(BARE_SERVICE, 'Bare');

function lengthMessage(n: number): Buffer {
  const m = Buffer.alloc(8);
  m.writeBigUInt64LE(BigInt(n));
  return m;
}

async function bareUploadOnce(client: grpc.Client, payload: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const call = client.makeClientStreamRequest<Buffer, Buffer>(BARE_SERVICE.upload.path, passThrough, passThrough, new grpc.Metadata(), {}, (err, ack) => {
      if (err) reject(err);
      else if (ack?.[0] !== 1) reject(new Error('bare upload: receiver refused the payload'));
      else resolve();
    });
    void (async () => {
      call.write(lengthMessage(payload.length));
      for (let off = 0; off < payload.length; off += CHUNK_BYTES) {
        if (!call.write(payload.subarray(off, Math.min(payload.length, off + CHUNK_BYTES)))) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    })();
  });
}

async function bareDownloadOnce(client: grpc.Client, length: number): Promise<void> {
  const target = Buffer.allocUnsafe(length);
  let filled = 0;
  await new Promise<void>((resolve, reject) => {
    const call = client.makeServerStreamRequest<Buffer, Buffer>(BARE_SERVICE.download.path, passThrough, passThrough, lengthMessage(length));
    call.on('data', (message: Buffer) => {
      message.copy(target, filled);
      filled += message.length;
    });
    call.on('error', reject);
    call.on('end', () => (filled === length ? resolve() : reject(new Error('bare download: short read'))));
  });
}

// --- the timed side ---------------------------------------------------------------------------------

/** What the timed (site) side needs for one size: where to connect, and how to rebuild the same bytes. */
interface ClientSetup {
  address: string;
  token: string;
  federationId: string;
  version: number;
  bytes: number;
  payloadSeed: number;
  deltaSeed: number;
  layout: TensorSpec[];
  ports: { down: number; downVerified: number; up: number; upVerified: number };
  bareAddress: string;
}

type ClientOp = 'grpcDownload' | 'grpcDownloadWide' | 'bareDown' | 'tcpDown' | 'tcpDownVerified' | 'grpcUpload' | 'bareUp' | 'tcpUp' | 'tcpUpVerified';

interface ClientSide {
  /** Runs one operation as the site does and returns its wall time, measured where it ran. */
  run(op: ClientOp, roundId?: string): Promise<Timed>;
  /** The full collections of the process the site's side runs in (none of its own in one process). */
  collections(): Promise<Array<{ startMs: number; endMs: number }>>;
}

/** The site's side of every variant, in the process that calls it. */
function localClient(setup: ClientSetup): ClientSide & { close(): void } {
  const client = participantClient(setup.address);
  // What-if: the same service with a 16 MiB HTTP/2 receive window on the client (CHANNEL_OPTIONS sets TRANSFER_WINDOW_BYTES).
  const wideClient = new ParticipantServiceClient(setup.address, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, 'grpc-node.flow_control_window': 16 * MiB });
  const bare = new BareClient(setup.bareAddress, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const values = tensorOf(setup.bytes, setup.payloadSeed);
  const payload = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const delta = tensorOf(setup.bytes, setup.deltaSeed);
  const download = async (c: typeof client) => {
    const model = await downloadModel(c, setup.token, { federationId: setup.federationId, version: setup.version });
    if (model.values.length !== values.length) throw new Error('grpc download: wrong size');
  };
  const ops: Record<ClientOp, (roundId?: string) => Promise<void>> = {
    grpcDownload: () => download(client),
    grpcDownloadWide: () => download(wideClient),
    bareDown: () => bareDownloadOnce(bare, setup.bytes),
    tcpDown: () => tcpDownloadOnce(setup.ports.down, setup.bytes, false),
    tcpDownVerified: () => tcpDownloadOnce(setup.ports.downVerified, setup.bytes, true),
    grpcUpload: async (roundId) => {
      const res = await submitUpdate(client, setup.token, { roundId: roundId!, numExamples: 1, layout: setup.layout, values: delta, trainLoss: 0, trainAccuracy: 0 });
      if (res.receivedUpdates !== 1) throw new Error('grpc upload: unexpected receivedUpdates');
    },
    bareUp: () => bareUploadOnce(bare, payload),
    tcpUp: () => tcpUploadOnce(setup.ports.up, payload, false),
    tcpUpVerified: () => tcpUploadOnce(setup.ports.upVerified, payload, true),
  };
  return {
    run: (op, roundId) => timeIt(() => ops[op](roundId)),
    collections: async () => [],
    close() {
      client.close();
      wideClient.close();
      bare.close();
    },
  };
}

/** The site's side in a child process of its own (--client-process), driven over IPC. */
class RemoteClient {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), ['--client-role'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.result);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`client process exited (${code})`));
      this.waiting.clear();
    });
  }

  private request<T>(message: object): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, ...message });
    });
  }

  async setup(setup: ClientSetup): Promise<ClientSide> {
    await this.request({ setup });
    return {
      run: async (op, roundId) => {
        const cpu = process.cpuUsage();
        const timed = await this.request<Timed>({ op, roundId });
        return { ...timed, cpuMs: timed.cpuMs + cpuMsSince(cpu) };
      },
      collections: () => this.request({ collections: true }),
    };
  }

  close(): void {
    this.child.kill();
  }
}

/** The child's loop: one local client per size, each operation answered with its time. */
function clientRole(): void {
  let side: (ClientSide & { close(): void }) | null = null;
  process.on('message', (m: { id: number; setup?: ClientSetup; op?: ClientOp; roundId?: string; collections?: boolean }) => {
    const reply = (body: object) => process.send!({ id: m.id, ...body });
    if (m.setup) {
      side?.close();
      side = localClient(m.setup);
      reply({ result: null });
      return;
    }
    if (m.collections) {
      reply({ result: majorCollections });
      return;
    }
    side!.run(m.op!, m.roundId).then((result) => reply({ result }), (err: unknown) => reply({ error: String(err) }));
  });
}

// --- gRPC -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  // Imported here, not at the top: a --client-process child loads what a site loads (the SDK, tfjs), not the coordinator.
  const { startCoordinator } = await import('../coordinator/coordinator.ts');
  const { silentLogger } = await import('../coordinator/logger.ts');
  const { configMessage } = await import('../coordinator/federation-config.ts');
  const loadStart = loadavg().map((x) => round2(x));
  const dataDir = mkdtempSync(join(tmpdir(), 'conclave-bench-transfer-'));
  const coordinator = await startCoordinator({ dataDir, port: 0, log: silentLogger });
  const admin = adminClient(coordinator.address);
  const client = participantClient(coordinator.address);
  const remote = CLIENT_PROCESS ? new RemoteClient() : null;
  const barePayloads = new Map<number, Buffer>();
  const bare = await bareServer(barePayloads);
  const results: unknown[] = [];
  try {
    const { registry } = coordinator;
    for (const sizeMiB of SIZES_MIB) {
      const bytes = Math.round(sizeMiB * MiB / 4) * 4;
      const values = tensorOf(bytes, sizeMiB * 7919);
      const layout: TensorSpec[] = [{ name: 'bench/weights', shape: [values.length], dtype: 'float32' }];
      // One federation per size, so every round it opens has a base model of exactly this size; it
      // runs WARMUP + REPS rounds and then finishes, so no round lingers in memory.
      const federation = await createFederation(admin, coordinator.adminToken, {
        config: configMessage({
          name: `bench-transfer-${sizeMiB}MiB`, model: 'mlp', rounds: REPS + WARMUP, sitesPerRound: 2, minSites: 2, roundDeadlineMs: 600_000, seed: 1,
          protection: 'none', training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' }, privacy: null,
        }),
        model: zooInitialModel('mlp', 1),
      });
      const enroll = (name: string) => callUnary<{ siteId: string; token: string }>(admin, 'EnrollSite', { federationId: federation.id, siteName: name }, coordinator.adminToken);
      const siteA = await enroll('a');
      const siteB = await enroll('b');
      // Version 1 = the benchmark tensor, written the way a commit writes it (blob + fsync, then the row).
      const version = 1;
      const { blobPath, sha256 } = await registry.writeBlob(federation.id, version, values);
      registry.insertVersion({
        federationId: federation.id, version, parentVersion: 0, roundId: null, sha256, numParameters: values.length, layout, blobPath, metrics: {},
      });
      const payload = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
      barePayloads.set(bytes, payload);

      /** Both sites long-poll until the round that selects them both opens. */
      const nextPlans = async (): Promise<[RoundPlanMsg, RoundPlanMsg]> => {
        const poll = async (token: string) => {
          for (let i = 0; i < 200; i++) {
            const task = await getTask(client, token, 2_000);
            if (task.task === 'round') return task.round;
            if (task.task === 'finished') throw new Error('federation finished');
          }
          throw new Error('no round opened');
        };
        return Promise.all([poll(siteA.token), poll(siteB.token)]);
      };

      // Upload: one timed SubmitUpdate per round (site A), site B closes the round untimed.
      await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: federation.id }, coordinator.adminToken);
      const deltaSeed = sizeMiB * 104729;
      const delta = tensorOf(bytes, deltaSeed);
      const ports = {
        down: await tcpDownloadServer(payload, false), downVerified: await tcpDownloadServer(payload, true),
        up: await tcpUploadServer(bytes, false), upVerified: await tcpUploadServer(bytes, true),
      };
      const setup: ClientSetup = { address: coordinator.address, token: siteA.token, federationId: federation.id, version, bytes, payloadSeed: sizeMiB * 7919, deltaSeed, layout, ports, bareAddress: bare.address };
      const local = remote ? null : localClient(setup);
      const side = remote ? await remote.setup(setup) : local!;
      let uploads = 0;
      const grpcUploadOnce = async (): Promise<Timed> => {
        const [planA] = await nextPlans();
        if (planA.modelVersion !== version + uploads) throw new Error(`round ${planA.roundNumber} is based on v${planA.modelVersion}, expected v${version + uploads}`);
        uploads++;
        const timed = await side.run('grpcUpload', planA.roundId);
        await submitUpdate(client, siteB.token, { roundId: planA.roundId, numExamples: 1, layout, values: delta, trainLoss: 0, trainAccuracy: 0 });
        return timed;
      };
      const variants: Record<string, () => Promise<Timed>> = {
        grpcDownload: () => side.run('grpcDownload'),
        grpcDownloadWide: () => side.run('grpcDownloadWide'),
        bareDown: () => side.run('bareDown'),
        tcpDown: () => side.run('tcpDown'),
        tcpDownVerified: () => side.run('tcpDownVerified'),
        grpcUpload: grpcUploadOnce,
        bareUp: () => side.run('bareUp'),
        tcpUp: () => side.run('tcpUp'),
        tcpUpVerified: () => side.run('tcpUpVerified'),
      };
      // Every repetition runs each variant once, forwards then backwards, so a change of load on a
      // shared machine hits gRPC and TCP alike; the first WARMUP repetitions are not timed.
      const names = Object.keys(variants);
      const timedRuns: Record<string, Timed[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (let r = 0; r < WARMUP + REPS; r++) {
        for (const name of r % 2 ? names.slice().reverse() : names) {
          const timed = await variants[name]!();
          if (r >= WARMUP) timedRuns[name]!.push(timed);
        }
      }
      // Gathered after the runs: a collection is reported to its observer a little after it ends.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const collections = [...majorCollections, ...(await side.collections())];
      const runs: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, timedRuns[n]!.map((t) => t.seconds)]));
      const stats = (name: string) => {
        const quiet = timedRuns[name]!.filter((t) => !collectedDuring(t, collections)).map((t) => t.seconds);
        return {
          mibPerS: round2(bytes / MiB / median(runs[name]!)), runsS: runs[name]!.map((s) => Math.round(s * 1e4) / 1e4),
          fullGcRuns: REPS - quiet.length, mibPerSNoFullGc: quiet.length ? round2(bytes / MiB / median(quiet)) : null,
          cpuMs: Math.round(median(timedRuns[name]!.map((t) => t.cpuMs)) * 10) / 10,
        };
      };
      /** Median over repetitions of gRPC's rate over TCP's in that same repetition. */
      const paired = (grpc: string, tcp: string) => round2(median(runs[grpc]!.map((s, i) => runs[tcp]![i]! / s)));
      /** gRPC over TCP, each over its runs that no full collection of either process overlapped. */
      const quietRatio = (grpc: { mibPerSNoFullGc: number | null }, tcp: { mibPerSNoFullGc: number | null }) =>
        grpc.mibPerSNoFullGc !== null && tcp.mibPerSNoFullGc !== null ? round2(grpc.mibPerSNoFullGc / tcp.mibPerSNoFullGc) : null;
      const grpcDownload = stats('grpcDownload');
      const grpcDownloadWide = stats('grpcDownloadWide');
      const grpcUpload = stats('grpcUpload');
      const bareDown = stats('bareDown');
      const bareUp = stats('bareUp');
      const tcpDown = stats('tcpDown');
      const tcpDownVerified = stats('tcpDownVerified');
      const tcpUp = stats('tcpUp');
      const tcpUpVerified = stats('tcpUpVerified');

      local?.close();
      results.push({
        sizeMiB,
        download: {
          grpcMiBs: grpcDownload.mibPerS, grpcWindow16MiBMiBs: grpcDownloadWide.mibPerS, tcpMiBs: tcpDown.mibPerS, tcpVerifiedMiBs: tcpDownVerified.mibPerS,
          ratioGrpcTcp: round2(grpcDownload.mibPerS / tcpDown.mibPerS), ratioGrpcTcpVerified: round2(grpcDownload.mibPerS / tcpDownVerified.mibPerS),
          ratioGrpcTcpPaired: paired('grpcDownload', 'tcpDown'),
          grpcJsBareMiBs: bareDown.mibPerS, ratioBareTcp: round2(bareDown.mibPerS / tcpDown.mibPerS), ratioGrpcBare: round2(grpcDownload.mibPerS / bareDown.mibPerS),
          grpcRunsS: grpcDownload.runsS, tcpRunsS: tcpDown.runsS,
          fullGcRuns: { grpc: grpcDownload.fullGcRuns, bare: bareDown.fullGcRuns, tcp: tcpDown.fullGcRuns },
          grpcMiBsNoFullGc: grpcDownload.mibPerSNoFullGc, tcpMiBsNoFullGc: tcpDown.mibPerSNoFullGc, ratioGrpcTcpNoFullGc: quietRatio(grpcDownload, tcpDown),
          cpuMs: { grpc: grpcDownload.cpuMs, bare: bareDown.cpuMs, tcp: tcpDown.cpuMs, tcpVerified: tcpDownVerified.cpuMs },
        },
        upload: {
          grpcMiBs: grpcUpload.mibPerS, tcpMiBs: tcpUp.mibPerS, tcpVerifiedMiBs: tcpUpVerified.mibPerS,
          ratioGrpcTcp: round2(grpcUpload.mibPerS / tcpUp.mibPerS), ratioGrpcTcpVerified: round2(grpcUpload.mibPerS / tcpUpVerified.mibPerS),
          ratioGrpcTcpPaired: paired('grpcUpload', 'tcpUp'),
          grpcJsBareMiBs: bareUp.mibPerS, ratioBareTcp: round2(bareUp.mibPerS / tcpUp.mibPerS), ratioGrpcBare: round2(grpcUpload.mibPerS / bareUp.mibPerS),
          grpcRunsS: grpcUpload.runsS, tcpRunsS: tcpUp.runsS,
          fullGcRuns: { grpc: grpcUpload.fullGcRuns, bare: bareUp.fullGcRuns, tcp: tcpUp.fullGcRuns },
          grpcMiBsNoFullGc: grpcUpload.mibPerSNoFullGc, tcpMiBsNoFullGc: tcpUp.mibPerSNoFullGc, ratioGrpcTcpNoFullGc: quietRatio(grpcUpload, tcpUp),
          cpuMs: { grpc: grpcUpload.cpuMs, bare: bareUp.cpuMs, tcp: tcpUp.cpuMs, tcpVerified: tcpUpVerified.cpuMs },
        },
      });
    }
  } finally {
    client.close();
    remote?.close();
    admin.close();
    for (const server of servers) server.close();
    bare.server.forceShutdown();
    await coordinator.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify({
    bench: 'transfer',
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    reps: REPS,
    warmupReps: WARMUP,
    loadAverage: { start: loadStart, end: loadavg().map((x) => round2(x)) },
    chunkBytes: CHUNK_BYTES,
    siteSide: CLIENT_PROCESS ? 'child process (timed there)' : 'same process and event loop as the coordinator',
    grpcDownload: 'ParticipantService.DownloadModel via client-sdk downloadModel (blob read + digest check on the server, reassembly + finiteness + SHA-256 on the client)',
    grpcUpload: 'ParticipantService.SubmitUpdate via client-sdk submitUpdate into an open round (2 sites selected; the timed site is not the last, so no aggregation/commit in the timed window)',
    grpcWindow16MiB: `download only: same call on a channel with grpc-node.flow_control_window = 16 MiB (what-if; the SDK and coordinator use ${TRANSFER_WINDOW_BYTES / MiB} MiB)`,
    grpcJsBare: 'the same bytes as 1 MiB messages on a bare grpc-js stream (pass-through serializers, no checks), same channel options and windows, receiver copies into one buffer',
    tcp: 'node:net on 127.0.0.1, same bytes in 1 MiB writes, length-prefixed; tcpVerified adds SHA-256 on both ends (digest after the payload)',
    cpuMs: 'median CPU time (user + system, all threads) of a run: the whole process in one process; with --client-process the site\'s process plus the coordinator\'s across the call (IPC included)',
    fullGc: 'fullGcRuns: timed runs that a full (mark-compact) collection of either process overlapped; *NoFullGc: medians over the other runs (a diagnostic of the spread, not the headline ratio)',
    results,
  }, null, 2) + '\n');
}

// As the `conclave` command does in both the coordinator's and the site's process.
collectTransferBuffersWithHeap();
if (process.argv.includes('--client-role')) {
  clientRole();
} else {
  await main();
  process.exit(0);
}
