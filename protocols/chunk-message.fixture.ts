import { expect } from 'vitest';
import { FRAME_OFFSET } from './chunk-message.ts';

/**
 * A hand-written chunk message decodes (with the generated deserializer) to the chunk, carries
 * only zeros as padding, and has its data at 0 mod 16 once grpc-js' 5-byte prefix precedes it.
 */
export function expectAlignedChunk(bytes: Buffer, deserialize: (b: Buffer) => unknown, chunk: { index: number; data: Uint8Array }): void {
  const decoded = deserialize(bytes) as { part: string; chunk: { index: number; data: Buffer; padding: Buffer } };
  expect(decoded.part).toBe('chunk');
  expect(decoded.chunk.index).toBe(chunk.index);
  expect(Buffer.from(decoded.chunk.data).equals(chunk.data)).toBe(true);
  expect(decoded.chunk.padding.every((b) => b === 0)).toBe(true);
  // protobufjs hands `bytes` fields out as views of the input: their offset is where they sit.
  const dataAt = decoded.chunk.data.byteOffset - bytes.byteOffset;
  expect((FRAME_OFFSET + dataAt) % 16).toBe(0);
}
