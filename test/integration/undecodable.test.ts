/**
 * Bytes that are not a protobuf message of the method's request type are the sender's fault:
 * every kind of RPC (unary, client stream, server stream; participant and admin) answers them with
 * INVALID_ARGUMENT and the stable code, not grpc-js's INTERNAL "Error deserializing request", and
 * the coordinator goes on serving.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { getTask, participantClient } from '../../client-sdk/connection.ts';
import { bearerMetadata } from '../../protocols/index.ts';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';

let fx: TestFederation;
let cleanup: () => void;
let client: grpc.Client;

beforeAll(async () => {
  const dir = tempDataDir();
  cleanup = dir.cleanup;
  fx = await startTestFederation({ dataDir: dir.dir, sites: 1, start: false });
  client = new grpc.Client(fx.coordinator.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  fx?.admin.close();
  await fx?.coordinator.close();
  cleanup?.();
});

/** Field 1 with wire type 7, which does not exist (protobuf.js is lenient about short strings, not about this). */
const BAD_WIRE_TYPE = Buffer.from([0x0f]);
/** Field 1 opening a (deprecated) group that never ends. */
const OPEN_GROUP = Buffer.from([0x0b]);
const raw = (b: Buffer) => b;

type Outcome = { code: number; details: string; conclaveCode: unknown };
const outcome = (resolve: (o: Outcome) => void) => (err: grpc.ServiceError | null) => resolve(err
  ? { code: err.code, details: err.details, conclaveCode: err.metadata?.get('conclave-error-code')[0] }
  : { code: grpc.status.OK, details: '', conclaveCode: undefined });

function unary(path: string, token: string, data: Buffer): Promise<Outcome> {
  return new Promise((resolve) => client.makeUnaryRequest(path, raw, raw, data, bearerMetadata(token), outcome(resolve)));
}

function clientStream(path: string, token: string, data: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(path, raw, raw, bearerMetadata(token), outcome(resolve));
    call.write(data);
    call.end();
  });
}

function serverStream(path: string, token: string, data: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, raw, raw, data, bearerMetadata(token));
    call.on('data', () => undefined);
    call.on('error', (err: grpc.ServiceError) => outcome(resolve)(err));
    call.on('end', () => resolve({ code: grpc.status.OK, details: '', conclaveCode: undefined }));
  });
}

test.each([
  ['GetTask (unary)', () => unary('/conclave.v1.ParticipantService/GetTask', fx.sites[0]!.token, OPEN_GROUP)],
  ['SubmitStage (client stream)', () => clientStream('/conclave.v1.ParticipantService/SubmitStage', fx.sites[0]!.token, BAD_WIRE_TYPE)],
  ['DownloadModel (server stream)', () => serverStream('/conclave.v1.ParticipantService/DownloadModel', fx.sites[0]!.token, BAD_WIRE_TYPE)],
  ['admin GetFederation (unary)', () => unary('/conclave.v1.AdminService/GetFederation', fx.coordinator.adminToken, BAD_WIRE_TYPE)],
  ['admin CreateFederation (client stream)', () => clientStream('/conclave.v1.AdminService/CreateFederation', fx.coordinator.adminToken, OPEN_GROUP)],
])('%s: undecodable bytes → INVALID_ARGUMENT with its code, not INTERNAL', async (_name, send) => {
  const result = await send();
  expect(result).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, conclaveCode: 'INVALID_ARGUMENT' });
  expect(result.details).toMatch(/not a valid \w+ message/);
});

test('bytes that do decode still reach the handler, and the coordinator goes on serving', async () => {
  // An empty message decodes (every field at its default): GetTask answers it.
  expect(await unary('/conclave.v1.ParticipantService/GetTask', fx.sites[0]!.token, Buffer.alloc(0))).toMatchObject({ code: grpc.status.OK });
  const site = participantClient(fx.coordinator.address);
  try {
    expect((await getTask(site, fx.sites[0]!.token, 0)).task).toBe('wait');
  } finally {
    site.close();
  }
});
