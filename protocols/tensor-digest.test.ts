import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { TensorAssembler, chunksOf, makeHeader, sha256OfFloats } from './tensor-codec.ts';
import { OffThreadDigest } from './tensor-verifier.ts';
import { ELEMENTS, layout, tensor } from './off-thread-tensor.fixture.ts';

function digestOffThread(values: Float32Array): OffThreadDigest {
  const digest = new OffThreadDigest(values.byteLength);
  for (const chunk of chunksOf(values)) digest.add(chunk.data);
  return digest;
}

describe('a sent tensor hashed on the verifier thread', () => {
  it('gives the SHA-256 of the bytes, also on a reused staging buffer and after a closed one', async () => {
    const first = tensor();
    expect((await digestOffThread(first).digest()).equals(sha256OfFloats(first))).toBe(true);
    const second = tensor().map((x) => -x);
    // The same size: the staging buffer the first one gave back.
    expect((await digestOffThread(second).digest()).equals(sha256OfFloats(second))).toBe(true);

    const abandoned = new OffThreadDigest(first.byteLength);
    abandoned.add(chunksOf(first).next().value!.data);
    abandoned.close();
    const third = tensor().map((x) => x * 3);
    expect((await digestOffThread(third).digest()).equals(sha256OfFloats(third))).toBe(true);
  });

  it('refuses more bytes than it was opened for, and a digest of fewer', async () => {
    const values = tensor();
    const digest = new OffThreadDigest(values.byteLength - 4);
    expect(() => { for (const chunk of chunksOf(values)) digest.add(chunk.data); }).toThrow(/more bytes/);
    digest.close();
    const partial = new OffThreadDigest(values.byteLength);
    partial.add(chunksOf(values).next().value!.data);
    await expect(partial.digest()).rejects.toThrow(/digest of/);
    partial.close();
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
    await new Promise((r) => setTimeout(r, 50));
    gc();
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(100 * 2 ** 20);
  });
});
