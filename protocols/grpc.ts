import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { MAX_MESSAGE_BYTES } from './tensor-codec.ts';
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

export const ParticipantServiceClient = loaded.conclave.v1.ParticipantService;
export const AdminServiceClient = loaded.conclave.v1.AdminService;
export const participantServiceDefinition = ParticipantServiceClient.service;
export const adminServiceDefinition = AdminServiceClient.service;
export type { ParticipantClient, AdminClient };

/** Both sides refuse any single message larger than this: a chunk is 1 MiB, so nothing legitimate comes close. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
};

export function bearerMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}
