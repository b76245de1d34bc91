import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, TensorAssembler, chunksOf, makeHeader, sha256OfFloats } from './tensor-codec.ts';
import { UploadImage } from './upload-image.ts';
import { EncodedMessage, ParticipantServiceClient } from './grpc.ts';
import { ELEMENTS, layout, tensor } from './off-thread-tensor.fixture.ts';
import { expectAlignedChunk } from './chunk-message.fixture.ts';

const stageChunk = ParticipantServiceClient.service.SubmitStage!;

/** Encodes every chunk as sendStage does and checks each message against protobufjs' encoding. */
function encodeAll(values: Float32Array, hash: boolean): UploadImage {
  const image = new UploadImage(values, hash);
  for (const chunk of chunksOf(values)) {
    const encoded = image.message(chunk.index);
    expect(encoded).toBeInstanceOf(EncodedMessage);
    expectAlignedChunk(encoded.bytes, stageChunk.requestDeserialize, chunk);
    // And the client's serializer sends those bytes as they are.
    expect(stageChunk.requestSerialize(encoded as never)).toBe(encoded.bytes);
    // Where grpc-js' framing copy puts them (offset 5 of a 16-byte aligned buffer), so that copy
    // out of shared memory is an aligned one (chunk-message.ts).
    expect(encoded.bytes.byteOffset % 16).toBe(5);
  }
  return image;
}

describe('an upload encoded into a reused image, hashed on the verifier thread', () => {
  it('encodes each chunk message as protobufjs does and gives the tensor\'s SHA-256, on a reused buffer too', async () => {
    const first = tensor();
    const image = encodeAll(first, true);
    expect((await image.digest()).equals(sha256OfFloats(first))).toBe(true);
    image.release();
    // The same size: the buffer the first one gave back.
    const second = tensor().map((x) => -x);
    const again = encodeAll(second, true);
    expect((await again.digest()).equals(sha256OfFloats(second))).toBe(true);
    again.release();

    // One released half way (a failed call), then a new one on its buffer.
    const abandoned = new UploadImage(first, true);
    abandoned.message(0);
    abandoned.release();
    const third = tensor().map((x) => x * 3);
    const after = encodeAll(third, true);
    expect((await after.digest()).equals(sha256OfFloats(third))).toBe(true);
    after.release();
  });

  it('takes chunks in order only, and a digest only once all are in', async () => {
    const values = tensor();
    const image = new UploadImage(values, true);
    expect(() => image.message(1)).toThrow(/out of order/);
    image.message(0);
    await expect(image.digest()).rejects.toThrow(/digest after 1/);
    image.release();
    expect(() => image.message(1)).toThrow(/out of order/);
    expect(new UploadImage(values, false).message(0).bytes.length).toBeGreaterThan(0);
  });

  it('writes multi-byte varints right (chunk indexes past 127, a short last chunk)', () => {
    const values = new Float32Array((130 * CHUNK_BYTES) / 4 + 3).fill(0.25);
    const image = new UploadImage(values, false);
    for (const chunk of chunksOf(values)) {
      const encoded = image.message(chunk.index);
      // The last chunk is short: a shorter length varint too.
      if (chunk.index >= 126) expectAlignedChunk(encoded.bytes, stageChunk.requestDeserialize, chunk);
    }
    image.release();
  });
});

describe('the verifier thread lets go of what it verified', () => {
  it('keeps memory flat over many large tensors (it held every shared buffer before)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const values = tensor();
    const header = makeHeader(layout, values);
    const once = async () => {
      const assembler = new TensorAssembler(header, { expectedLayout: layout, offThread: true });
      for (const chunk of chunksOf(values)) assembler.push(chunk);
      expect((await assembler.finished()).length).toBe(ELEMENTS);
    };
    for (let i = 0; i < 4; i++) await once();
    gc();
    const before = process.memoryUsage().arrayBuffers;
    // 40 tensors of ~4 MiB: ~160 MiB if each stayed; the thread collects every 64 MiB it drops.
    for (let i = 0; i < 40; i++) await once();
    // The thread lets go when it gets to the jobs' ends, later on a loaded machine: give it up to
    // 3 s (one that holds every buffer never lets go, however long it is given).
    let grown = Infinity;
    for (let waited = 0; waited <= 3000 && grown >= 100 * 2 ** 20; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      gc();
      grown = process.memoryUsage().arrayBuffers - before;
    }
    expect(grown).toBeLessThan(100 * 2 ** 20);
  });
});
