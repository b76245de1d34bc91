import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as http2 from 'node:http2';
import { CHUNK_BYTES, MAX_MESSAGE_BYTES } from './tensor-codec.ts';
import { ConclaveError, toServiceError } from './errors.ts';
import { encodeChunkMessage } from './chunk-message.ts';
import type { ProtoGrpcType } from './generated/conclave.ts';
import type { ParticipantServiceClient as ParticipantClient } from './generated/conclave/v1/ParticipantService.ts';
import type { AdminServiceClient as AdminClient } from './generated/conclave/v1/AdminService.ts';

const PROTO_PATH = fileURLToPath(new URL('./conclave.proto', import.meta.url));

const packageDefinition = protoLoader.loadSync(PROTO_PATH, {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
});

/**
 * The typed clients and service definitions generated from conclave.proto (./generated, by
 * `npm run proto:gen`): proto-loader builds them at run time, the generated types describe them.
 */
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;

/** Its SubmitStage (and every other request) sends an EncodedMessage's bytes as they are: see encodedRequests. */
export const ParticipantServiceClient = grpc.makeClientConstructor(
  encodedRequests(loaded.conclave.v1.ParticipantService.service), 'ParticipantService',
) as unknown as typeof loaded.conclave.v1.ParticipantService;
export const AdminServiceClient = loaded.conclave.v1.AdminService;
/**
 * A request the server could not decode as its protobuf type. grpc-js answers a throwing
 * deserializer with INTERNAL before any handler runs, which tells a client "the coordinator broke"
 * when the client sent garbage; the server's definitions below return this marker instead, and
 * `refuseUndecodable` (in SERVER_OPTIONS) answers it with INVALID_ARGUMENT.
 */
class UndecodableRequest {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

function tolerantRequests(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(definition).map(([name, method]) => [name, {
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch (err) {
        return new UndecodableRequest(err instanceof Error ? err.message : String(err));
      }
    },
  }]));
}

/**
 * A message already in its protobuf encoding: a served model's chunks (encoded once per version),
 * an upload's chunks (encoded into reused memory, upload-image.ts). The serializers pass its bytes
 * through. Each 1 MiB chunk encoded per transfer cost a copy into fresh memory, which page faults
 * make the dearest step of a transfer on the VMs measured (BENCHMARKS.md).
 */
export class EncodedMessage {
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
}

function encodedRequests(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(definition).map(([name, method]) => [name, {
    ...method,
    requestSerialize: (value: unknown) => (value instanceof EncodedMessage ? value.bytes : method.requestSerialize(value)),
  }]));
}

function encodedResponses(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(definition).map(([name, method]) => [name, {
    ...method,
    responseSerialize: (value: unknown) => (value instanceof EncodedMessage ? value.bytes : method.responseSerialize(value)),
  }]));
}

/** One chunk of a DownloadModel stream (either service), encoded as it goes on the wire (its data aligned, chunk-message.ts). */
export function encodeModelChunk(chunk: { index: number; data: Uint8Array }): EncodedMessage {
  return new EncodedMessage(encodeChunkMessage(chunk.index, chunk.data));
}

/**
 * What the server serves: the generated services, with requests that do not decode refused as
 * INVALID_ARGUMENT, and EncodedMessage messages sent as they are.
 */
export const participantServiceDefinition = encodedResponses(tolerantRequests(ParticipantServiceClient.service));
export const adminServiceDefinition = encodedResponses(tolerantRequests(AdminServiceClient.service));

/**
 * Ends a call whose request (or any message of a client stream) did not decode, before its
 * handler sees it. The decoder's own message is not echoed: it may quote the sender's bytes.
 */
export const refuseUndecodable: grpc.ServerInterceptor = (method, call) => {
  const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMessage(message, nextMessage) {
          if (!(message instanceof UndecodableRequest)) return nextMessage(message);
          intercepting.sendStatus(toServiceError(new ConclaveError('INVALID_ARGUMENT', `the request is not a valid ${method.path.split('/').pop()} message (protobuf decoding failed)`)) as grpc.StatusObject);
        },
      });
    },
  });
  return intercepting;
};
export type { ParticipantClient, AdminClient };

/**
 * HTTP/2 receive window of each connection and stream, both sides. With the protocol's 64 KiB a
 * 1 MiB chunk needs 16 WINDOW_UPDATE round trips through each side's event loop, and transfers ran
 * at 0.1-0.25 of raw TCP (BENCHMARKS.md); a window of a few chunks keeps the pipe full. What a
 * peer can make us buffer unread is bounded by it, per connection and per stream.
 */
export const TRANSFER_WINDOW_BYTES = 4 * CHUNK_BYTES;

/** Both sides refuse any single message larger than this: a chunk is 1 MiB, so nothing legitimate comes close. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc-node.flow_control_window': TRANSFER_WINDOW_BYTES,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  interceptors: [refuseUndecodable],
};

export function bearerMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/**
 * Gives every connection a server accepts TRANSFER_WINDOW_BYTES of receive window (uploads), as
 * CHANNEL_OPTIONS does for clients (downloads). grpc-js has no server option for it, so this reaches
 * its HTTP/2 servers (a private field: call after bindAsync). Returns how many servers it reached;
 * 0 means this grpc-js keeps them elsewhere and uploads run with the 64 KiB default.
 */
export function widenServerWindows(server: grpc.Server, windowBytes = TRANSFER_WINDOW_BYTES): number {
  const servers = (server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return 0;
  for (const http2Server of servers.keys()) {
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      // The stream window comes from SETTINGS, the connection window from an immediate WINDOW_UPDATE.
      session.settings({ initialWindowSize: windowBytes });
      session.setLocalWindowSize(windowBytes);
    });
  }
  return servers.size;
}
