import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, EncodedMessage, ParticipantServiceClient, encodeModelChunk, participantServiceDefinition, adminServiceDefinition } from './index.ts';

describe('pre-encoded download chunks', () => {
  it('are the bytes protobufjs writes, and both services send them as they are', () => {
    const data = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const generated = ParticipantServiceClient.service.DownloadModel!;
    for (const index of [0, 1, 300, 70_000]) {
      const encoded = encodeModelChunk({ index, data });
      expect(encoded).toBeInstanceOf(EncodedMessage);
      expect(encoded.bytes.equals(generated.responseSerialize({ part: 'chunk', chunk: { index, data } }))).toBe(true);
      expect(participantServiceDefinition.DownloadModel!.responseSerialize(encoded)).toBe(encoded.bytes);
      expect(adminServiceDefinition.DownloadModel!.responseSerialize(encoded)).toBe(encoded.bytes);
      const decoded = generated.responseDeserialize(encoded.bytes) as { part: string; chunk: { index: number; data: Buffer } };
      expect(decoded).toMatchObject({ part: 'chunk', chunk: { index } });
      expect(Buffer.from(decoded.chunk.data).equals(data)).toBe(true);
    }
    // Anything else still goes through protobufjs.
    const header = { part: 'header' as const, header: { federationId: 'f', version: 1, topologyJson: '{}', tensor: null } };
    expect(participantServiceDefinition.DownloadModel!.responseSerialize(header).equals(generated.responseSerialize(header))).toBe(true);
  });
});
