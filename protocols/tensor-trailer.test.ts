import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, TensorAssembler, chunksOf, makeHeader, sha256OfFloats, type TensorSpec } from './tensor-codec.ts';
import { ConclaveError } from './errors.ts';

const ELEMENTS = 2 * (CHUNK_BYTES / 4) + 321;
const layout: TensorSpec[] = [{ name: 'w', shape: [ELEMENTS], dtype: 'float32' }];
const values = Float32Array.from({ length: ELEMENTS }, (_, i) => Math.cos(i) * 1e-2);
const digest = sha256OfFloats(values);

/** The code the stream ends with, each chunk given `trailer(index)` as its sha256. */
async function outcome(trailer: (index: number) => Buffer | undefined, options: { digestInTrailer?: boolean; offThread?: boolean } = { digestInTrailer: true }): Promise<string> {
  try {
    const assembler = new TensorAssembler(makeHeader(layout, values, { digest: false }), { expectedLayout: layout, ...options });
    for (const chunk of chunksOf(values)) {
      const sha256 = trailer(chunk.index);
      assembler.push(sha256 ? { ...chunk, sha256 } : chunk);
    }
    const received = await assembler.finished();
    expect(Buffer.from(received.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    expect(Buffer.from(assembler.header.sha256).equals(digest)).toBe(true);
    return 'NONE';
  } catch (err) {
    return err instanceof ConclaveError ? err.code : `OTHER: ${String(err)}`;
  }
}

describe('the digest in the last chunk', () => {
  const last = Math.ceil((ELEMENTS * 4) / CHUNK_BYTES) - 1;

  it('accepts a tensor whose last chunk carries its digest, and checks it as a header digest', async () => {
    expect(makeHeader(layout, values, { digest: false }).sha256.length).toBe(0);
    expect(await outcome((i) => (i === last ? digest : undefined))).toBe('NONE');
    const wrong = Buffer.from(digest);
    wrong[0]! ^= 1;
    expect(await outcome((i) => (i === last ? wrong : undefined))).toBe('DIGEST_MISMATCH');
  });

  it('refuses a missing or short trailer, a digest on another chunk, and an empty header digest where trailers are not allowed', async () => {
    expect(await outcome(() => undefined)).toBe('MALFORMED_STREAM');
    expect(await outcome((i) => (i === last ? digest.subarray(0, 31) : undefined))).toBe('MALFORMED_STREAM');
    expect(await outcome((i) => (i === 0 || i === last ? digest : undefined))).toBe('MALFORMED_STREAM');
    expect(await outcome((i) => (i === last ? digest : undefined), {})).toBe('MALFORMED_STREAM');
    // A header that has its digest takes no trailer.
    const withDigest = new TensorAssembler(makeHeader(layout, values), { expectedLayout: layout, digestInTrailer: true });
    const chunks = [...chunksOf(values)];
    for (const chunk of chunks.slice(0, -1)) withDigest.push(chunk);
    expect(() => withDigest.push({ ...chunks.at(-1)!, sha256: digest })).toThrow(/only when the header left it out/);
  });
});
