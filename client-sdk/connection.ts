import * as grpc from '@grpc/grpc-js';
import {
  AdminServiceClient, CHANNEL_OPTIONS, ConclaveError, ParticipantServiceClient, TensorAssembler, bearerMetadata, chunksOf,
  fromServiceError, makeHeader,
  type GetTaskResponseMsg, type ModelHeaderMsg, type ModelStreamMsg, type SubmitUpdateResponseMsg, type TensorSpec, type UpdateStreamMsg,
} from '../protocols/index.ts';

export interface DownloadedModel {
  federationId: string;
  version: number;
  topologyJson: string;
  layout: TensorSpec[];
  values: Float32Array;
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

/** Receives a streamed model, checking layout, finiteness and digest as chunks arrive. */
export async function downloadModel(client: grpc.Client, token: string, request: { federationId: string; version?: number; latest?: boolean }): Promise<DownloadedModel> {
  const fn = (client as unknown as Record<string, (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<ModelStreamMsg>>)['DownloadModel']!;
  const stream = fn.call(client, { federationId: request.federationId, version: request.version ?? 0, latest: request.latest ?? false }, bearerMetadata(token));
  let header: ModelHeaderMsg | null = null;
  let assembler: TensorAssembler | null = null;
  try {
    for await (const msg of stream as AsyncIterable<ModelStreamMsg>) {
      if (msg.part === 'header') {
        header = msg.header;
        assembler = new TensorAssembler({ ...msg.header.tensor }, { rejectNonFinite: true });
      } else if (msg.part === 'chunk' && assembler) {
        assembler.push(msg.chunk);
      } else {
        throw new ConclaveError('MALFORMED_STREAM', 'model stream did not start with a header');
      }
    }
  } catch (err) {
    stream.cancel();
    throw fromServiceError(err);
  }
  if (!header || !assembler) throw new ConclaveError('MALFORMED_STREAM', 'model stream was empty');
  const values = assembler.finish();
  return {
    federationId: header.federationId, version: header.version, topologyJson: header.topologyJson,
    layout: assembler.header.layout, values, sha256: Buffer.from(header.tensor.sha256),
  };
}

/** Streams one update: a header with layout and digest, then ~1 MiB chunks, honouring flow control. */
export async function submitUpdate(
  client: grpc.Client, token: string,
  update: { roundId: string; numExamples: number; layout: TensorSpec[]; values: Float32Array; trainLoss: number; trainAccuracy: number; unclipped?: boolean },
): Promise<SubmitUpdateResponseMsg> {
  const fn = (client as unknown as Record<string, (md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: SubmitUpdateResponseMsg) => void) => grpc.ClientWritableStream<UpdateStreamMsg>>)['SubmitUpdate']!;
  return new Promise((resolve, reject) => {
    const stream = fn.call(client, bearerMetadata(token), (err, res) => (err ? reject(fromServiceError(err)) : resolve(res)));
    const write = async () => {
      const tensor = makeHeader(update.layout, update.values);
      stream.write({
        part: 'header',
        header: {
          roundId: update.roundId, numExamples: update.numExamples, tensor, trainLoss: update.trainLoss, trainAccuracy: update.trainAccuracy,
          unclipped: update.unclipped ?? false,
        },
      });
      for (const chunk of chunksOf(update.values)) {
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

export function participantClient(address: string, tls?: ClientTls): grpc.Client {
  return new ParticipantServiceClient(address, channelCredentials(tls), CHANNEL_OPTIONS);
}

export function adminClient(address: string, tls?: ClientTls): grpc.Client {
  return new AdminServiceClient(address, channelCredentials(tls), CHANNEL_OPTIONS);
}

export async function getTask(client: grpc.Client, token: string, waitMs: number): Promise<GetTaskResponseMsg> {
  return callUnary<GetTaskResponseMsg>(client, 'GetTask', { waitMs }, token, waitMs + 15_000);
}
