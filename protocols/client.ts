/**
 * gRPC client helpers for both services, without tfjs: channels, unary calls with stable error
 * codes, and the streamed tensor transfers (model download, update upload, a federation's version
 * 0). The site SDK (client-sdk/connection.ts) re-exports them; the admin CLI uses them directly.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  AdminServiceClient, CHANNEL_OPTIONS, ConclaveError, ParticipantServiceClient, TensorAssembler, bearerMetadata, chunksOf,
  OFF_THREAD_MIN_BYTES, fromServiceError, makeHeader, sameLayout, sha256OfFloats,
  type ResumeStageResponseMsg, type TensorHeader,
  type GetTaskResponseMsg, type ModelHeaderMsg, type ModelStreamMsg, type StageHeaderMsg, type StageStreamMsg, type SubmitStageResponseMsg,
  type StageTaskMsg, type StageTensorMsg,
  type TensorSpec, type TypedTensor,
  type FederationConfigMsg, type FederationMsg, type AdminClient, type ParticipantClient,
} from './index.ts';
import { UploadImage } from './upload-image.ts';

/** A model as it travels: tfjs LayersModel topology JSON and the trainable weights, flattened in getWeights() order. */
export interface ModelArtifacts {
  topologyJson: string;
  layout: TensorSpec[];
  values: Float32Array;
}

/**
 * Creates a federation with its version 0, built by the caller (the coordinator never runs tfjs):
 * a header with the config, the topology and the tensor header, then ~1 MiB chunks, honouring
 * flow control. The config must carry its training settings.
 */
export function createFederation(
  client: AdminClient, token: string, request: { config: FederationConfigMsg; model: ModelArtifacts }, timeoutMs = 300_000,
): Promise<FederationMsg> {
  return new Promise((resolve, reject) => {
    const stream = client.CreateFederation(bearerMetadata(token), { deadline: Date.now() + timeoutMs },
      (err, res) => (err || !res ? reject(fromServiceError(err)) : resolve(res as FederationMsg)));
    const write = async () => {
      const tensor = makeHeader(request.model.layout, request.model.values);
      stream.write({ part: 'header', header: { config: request.config, topologyJson: request.model.topologyJson, tensor } });
      for (const chunk of chunksOf(request.model.values)) {
        if (!stream.write({ part: 'chunk', chunk })) await new Promise((r) => stream.once('drain', r));
      }
      stream.end();
    };
    write().catch((err: unknown) => {
      stream.cancel();
      reject(fromServiceError(err));
    });
  });
}

export interface DownloadedModel extends ModelArtifacts {
  federationId: string;
  version: number;
  sha256: Buffer;
}

type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall;

/** Calls a unary method and turns any gRPC failure into a ConclaveError with its stable code. */
export function callUnary<Res>(client: grpc.Client, method: string, request: unknown, token: string, timeoutMs = 30_000): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  if (!fn) throw new Error(`no such method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, bearerMetadata(token), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(fromServiceError(err));
      else resolve(res as Res);
    });
  });
}

/** Failures that cut a transfer rather than refuse it: what was verified so far stays usable. */
const CUT = new Set(['UNAVAILABLE', 'INTERNAL']);

/**
 * What a cut download keeps for its retry: the header it started with and the chunks verified so
 * far (their bytes and running digest). Pass the same object to every attempt of one download.
 */
export class DownloadProgress {
  header: ModelHeaderMsg | null = null;
  assembler: TensorAssembler | null = null;
  /** Chunks the last attempt received over the wire. */
  lastAttemptChunks = 0;

  reset(): void {
    this.header = null;
    this.assembler = null;
  }
}

function sameModelHeader(a: ModelHeaderMsg, b: ModelHeaderMsg): boolean {
  return a.federationId === b.federationId && a.version === b.version && a.topologyJson === b.topologyJson
    && Buffer.from(a.tensor.sha256).equals(Buffer.from(b.tensor.sha256)) && a.tensor.chunkCount === b.tensor.chunkCount
    && a.tensor.totalElements === b.tensor.totalElements && sameLayout(a.tensor.layout, b.tensor.layout);
}

/**
 * Receives a streamed model, checking layout, finiteness and digest as chunks arrive. With
 * `progress`, a retry after a cut connection asks only for the chunks that did not arrive (a pinned
 * version only); the final digest still covers every byte.
 */
export async function downloadModel(
  client: ParticipantClient | AdminClient, token: string, request: { federationId: string; version?: number; latest?: boolean }, progress?: DownloadProgress,
): Promise<DownloadedModel> {
  const kept = progress?.header && progress.assembler && !request.latest && progress.header.federationId === request.federationId
    && progress.header.version === (request.version ?? 0) && progress.assembler.receivedChunks > 0 && !progress.assembler.complete
    ? { header: progress.header, assembler: progress.assembler } : null;
  if (progress && !kept) progress.reset();
  const stream = client.DownloadModel({
    federationId: request.federationId, version: request.version ?? 0, latest: request.latest ?? false,
    ...(kept ? { fromChunk: kept.assembler.receivedChunks, expectedSha256: kept.header.tensor.sha256 } : {}),
  }, bearerMetadata(token));
  let header: ModelHeaderMsg | null = null;
  let assembler: TensorAssembler | null = null;
  if (progress) progress.lastAttemptChunks = 0;
  try {
    for await (const msg of stream as AsyncIterable<ModelStreamMsg>) {
      if (msg.part === 'header') {
        if (header) throw new ConclaveError('MALFORMED_STREAM', 'model stream carries a second header');
        header = msg.header;
        if (kept) {
          if (!sameModelHeader(kept.header, header)) throw new ConclaveError('RESUME_MISMATCH', 'the resumed download is not the model the cut one started');
          assembler = kept.assembler;
        } else {
          assembler = new TensorAssembler({ ...msg.header.tensor }, { rejectNonFinite: true, offThread: true });
          if (progress) {
            progress.header = header;
            progress.assembler = assembler;
          }
        }
      } else if (msg.part === 'chunk' && assembler) {
        assembler.push(msg.chunk);
        if (progress) progress.lastAttemptChunks++;
      } else {
        throw new ConclaveError('MALFORMED_STREAM', 'model stream did not start with a header');
      }
    }
  } catch (err) {
    stream.cancel();
    const error = fromServiceError(err);
    if (progress && !CUT.has(error.code)) progress.reset();
    throw error;
  }
  progress?.reset();
  if (!header || !assembler) throw new ConclaveError('MALFORMED_STREAM', 'model stream was empty');
  const values = await assembler.finished();
  return {
    federationId: header.federationId, version: header.version, topologyJson: header.topologyJson,
    layout: assembler.header.layout, values, sha256: Buffer.from(header.tensor.sha256),
  };
}

/**
 * Receives a stage task's tensor (DownloadStageTensor), refusing a stream whose header is not the
 * one the task announced, and checking order, size and digest as chunks arrive.
 */
export async function downloadStageTensor(client: ParticipantClient, token: string, task: StageTaskMsg): Promise<TypedTensor> {
  const expected = task.tensor;
  if (!expected) throw new ConclaveError('INVALID_ARGUMENT', 'this stage task carries no tensor');
  const stream = client.DownloadStageTensor({ roundId: task.roundId, stage: task.stage }, bearerMetadata(token));
  let assembler: TensorAssembler<TypedTensor> | null = null;
  try {
    for await (const msg of stream as AsyncIterable<StageTensorMsg>) {
      if (msg.part === 'header' && !assembler) {
        if (!Buffer.from(msg.header.sha256).equals(Buffer.from(expected.sha256)) || msg.header.totalElements !== expected.totalElements) {
          throw new ConclaveError('DIGEST_MISMATCH', `the tensor of stage "${task.stage.slice(0, 64)}" is not the one its task announced`);
        }
        assembler = new TensorAssembler<TypedTensor>(msg.header, { expectedLayout: expected.layout, expectedDtype: expected.layout[0]?.dtype, maxElements: expected.totalElements });
      } else if (msg.part === 'chunk' && assembler) {
        assembler.push(msg.chunk);
      } else {
        throw new ConclaveError('MALFORMED_STREAM', 'a stage tensor stream starts with one header, then chunks');
      }
    }
  } catch (err) {
    stream.cancel();
    throw fromServiceError(err);
  }
  if (!assembler) throw new ConclaveError('MALFORMED_STREAM', 'the stage tensor stream was empty');
  return assembler.finish();
}

/** What a site sends for one stage: the envelope's typed body, and the tensor it describes (if any). */
export type StageSubmission = (StageHeaderMsg extends infer H ? H extends unknown ? Omit<H, 'tensor'> : never : never)
  & { tensor?: { layout: TensorSpec[]; values: TypedTensor } };

/**
 * What a stage message keeps across attempts: its tensor header (hashed once), and whether an
 * attempt already went out, in which case the next one first asks the coordinator (ResumeStage)
 * how many chunks it kept. Pass the same object with the same message to every attempt.
 */
export class UploadProgress {
  message: StageSubmission | null = null;
  tensor: TensorHeader | null = null;
  /** The tensor's digest, once known (the header leaves it out: it travels in the last chunk). */
  digest: Buffer | null = null;
  attempts = 0;
  /** The chunk the last attempt started from (0: the whole message). */
  lastAttemptFrom = 0;
}

/**
 * Streams one stage message: the envelope header (round, stage, typed body, tensor layout and
 * digest), then the tensor in ~1 MiB chunks, honouring flow control. With `progress`, a retry of
 * a cut upload sends only the chunks the coordinator did not keep.
 */
export async function submitStage(client: ParticipantClient, token: string, message: StageSubmission, progress?: UploadProgress): Promise<SubmitStageResponseMsg> {
  const { tensor: payload, ...envelope } = message;
  const retry = progress?.message === message;
  // The digest is not in the header: it is computed while the chunks go out and sent with the last
  // one, so hashing overlaps sending instead of delaying the first byte by a pass over the tensor.
  const tensor = payload ? (retry && progress.tensor) || makeHeader(payload.layout, payload.values, { digest: false }) : null;
  let digest = retry ? progress.digest : null;
  let from = 0;
  if (retry && progress.attempts > 0 && tensor && payload) {
    // A retry may skip chunks, so it needs the whole digest before it sends: one pass, once.
    digest ??= sha256OfFloats(payload.values);
    progress.digest = digest;
    const kept = await callUnary<ResumeStageResponseMsg>(client, 'ResumeStage', { roundId: message.roundId, stage: message.stage, tensorSha256: digest }, token)
      .catch(() => ({ nextChunk: 0 }));
    // Anything outside the message means nothing usable is kept.
    from = Number.isInteger(kept.nextChunk) && kept.nextChunk <= tensor.chunkCount ? kept.nextChunk : 0;
  }
  if (progress) {
    progress.message = message;
    progress.tensor = tensor;
    progress.attempts++;
  }
  try {
    return await sendStage(client, token, envelope, tensor, payload?.values ?? null, from, digest, progress);
  } catch (err) {
    // The coordinator dropped what it kept (its round moved on, a timeout): send it whole.
    if (from > 0 && err instanceof ConclaveError && err.code === 'RESUME_MISMATCH') return sendStage(client, token, envelope, tensor, payload?.values ?? null, 0, digest, progress);
    throw err;
  }
}

/** `digest`: the tensor's, if already known; otherwise hashed from the chunks as they go out (from 0 only). */
function sendStage(
  client: ParticipantClient, token: string, envelope: Omit<StageSubmission, 'tensor'>, tensor: TensorHeader | null, values: TypedTensor | null, from: number,
  digest: Buffer | null, progress: UploadProgress | undefined,
): Promise<SubmitStageResponseMsg> {
  if (progress) progress.lastAttemptFrom = from;
  const trailer = tensor !== null && tensor.sha256.length === 0;
  if (trailer && from > 0 && !digest) throw new Error('a resumed upload needs its digest before it sends');
  return new Promise((resolve, reject) => {
    // A large tensor goes out of a reused encoded image, hashed on the verifier thread (upload-image.ts);
    // a small one, or the rest of a resumed one, as plain messages hashed here.
    const image = values !== null && from === 0 && values.byteLength >= OFF_THREAD_MIN_BYTES ? new UploadImage(values, trailer && !digest) : null;
    const stream = client.SubmitStage(bearerMetadata(token), (err, res) => {
      // The call is over: grpc-js has copied (or dropped) every message it was given.
      image?.release();
      if (err || !res) reject(fromServiceError(err));
      else resolve(res);
    });
    const hash = trailer && !digest && !image ? createHash('sha256') : null;
    const write = async () => {
      stream.write({ part: 'header', header: { ...envelope, tensor, resumeFromChunk: from } as StageHeaderMsg });
      if (values && tensor) {
        for (const chunk of chunksOf(values, from)) {
          const encoded = image?.message(chunk.index);
          hash?.update(chunk.data);
          const last = trailer && chunk.index === tensor.chunkCount - 1;
          const sha256 = last ? digest ?? (image ? await image.digest() : hash!.digest()) : null;
          if (sha256 && progress) progress.digest = sha256;
          // An encoded message passes the client's serializer as it is (grpc.ts, encodedRequests).
          const message = (sha256 ? { part: 'chunk', chunk: { ...chunk, sha256 } } : encoded ?? { part: 'chunk', chunk }) as StageStreamMsg;
          if (!stream.write(message)) await new Promise((r) => stream.once('drain', r));
        }
      }
      stream.end();
    };
    write().catch((err: unknown) => {
      stream.cancel();
      reject(fromServiceError(err));
    });
  });
}

/** The `submit` stage of protocol `none`: one model delta with its (possibly withheld) metrics. */
export async function submitUpdate(
  client: ParticipantClient, token: string,
  update: { roundId: string; numExamples: number; layout: TensorSpec[]; values: Float32Array; trainLoss: number; trainAccuracy: number; unclipped?: boolean },
): Promise<{ roundId: string; receivedUpdates: number }> {
  const res = await submitStage(client, token, {
    roundId: update.roundId, stage: 'submit', body: 'update',
    update: { numExamples: update.numExamples, trainLoss: update.trainLoss, trainAccuracy: update.trainAccuracy, unclipped: update.unclipped ?? false },
    tensor: { layout: update.layout, values: update.values },
  });
  return { roundId: res.roundId, receivedUpdates: res.received };
}

/**
 * TLS for a channel: the CA that signed the coordinator's certificate, and, when the coordinator
 * demands mutual TLS, this client's own certificate and key. Absent: plaintext (loopback only).
 */
export interface ClientTls {
  caPem: Buffer;
  certPem?: Buffer;
  keyPem?: Buffer;
}

function channelCredentials(tls: ClientTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if ((tls.certPem === undefined) !== (tls.keyPem === undefined)) {
    throw new ConclaveError('INVALID_ARGUMENT', 'a client certificate needs its key, and a key its certificate');
  }
  return grpc.credentials.createSsl(tls.caPem, tls.keyPem ?? null, tls.certPem ?? null);
}

export function participantClient(address: string, tls?: ClientTls): ParticipantClient {
  return new ParticipantServiceClient(address, channelCredentials(tls), CHANNEL_OPTIONS);
}

export function adminClient(address: string, tls?: ClientTls): AdminClient {
  return new AdminServiceClient(address, channelCredentials(tls), CHANNEL_OPTIONS);
}

export async function getTask(client: ParticipantClient, token: string, waitMs: number): Promise<GetTaskResponseMsg> {
  return new Promise((resolve, reject) => {
    client.GetTask({ waitMs }, bearerMetadata(token), { deadline: Date.now() + waitMs + 15_000 },
      (err, res) => (err || !res ? reject(fromServiceError(err)) : resolve(res as GetTaskResponseMsg)));
  });
}
