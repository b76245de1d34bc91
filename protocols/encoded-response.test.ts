import { describe, expect, it } from 'vitest';
import { expectAlignedChunk } from './chunk-message.fixture.ts';
import { CHUNK_BYTES, EncodedMessage, ParticipantServiceClient, encodeModelChunk, participantServiceDefinition, adminServiceDefinition } from './index.ts';

describe('pre-encoded download chunks', () => {
  it('decode as the chunk with its data aligned where grpc-js reassembles it, and both services send them as they are', () => {
    const data = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const generated = ParticipantServiceClient.service.DownloadModel!;
    for (const index of [0, 1, 300, 70_000]) {
      const encoded = encodeModelChunk({ index, data });
      expect(encoded).toBeInstanceOf(EncodedMessage);
      expectAlignedChunk(encoded.bytes, generated.responseDeserialize, { index, data });
      expect(participantServiceDefinition.DownloadModel!.responseSerialize(encoded)).toBe(encoded.bytes);
      expect(adminServiceDefinition.DownloadModel!.responseSerialize(encoded)).toBe(encoded.bytes);
    }
    // Anything else still goes through protobufjs.
    const header = { part: 'header' as const, header: { federationId: 'f', version: 1, topologyJson: '{}', tensor: null } };
    expect(participantServiceDefinition.DownloadModel!.responseSerialize(header).equals(generated.responseSerialize(header))).toBe(true);
  });
});
