import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CHUNK_BYTES, TensorAssembler, chunksOf, makeHeader, type TensorSpec } from './tensor-codec.ts';
import { ConclaveError } from './errors.ts';

function layoutFor(sizes: number[]): TensorSpec[] {
  return sizes.map((n, i) => ({ name: `t${i}`, shape: [n], dtype: 'float32' }));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof ConclaveError ? err.code : 'OTHER';
  }
  return 'NONE';
}

describe('tensor codec', () => {
  it('round-trips any tensor through ~1 MiB chunks, byte for byte', () => {
    // Sizes straddle the chunk boundary (262,144 floats) so partial last chunks are covered.
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 3 }), fc.integer(), (sizes, seed) => {
      const layout = layoutFor(sizes);
      const values = new Float32Array(sizes.reduce((a, b) => a + b, 0));
      for (let i = 0; i < values.length; i++) values[i] = Math.sin(seed + i);
      const header = makeHeader(layout, values);
      const assembler = new TensorAssembler(header, { expectedLayout: layout });
      let chunks = 0;
      for (const chunk of chunksOf(values)) {
        expect(chunk.data.length).toBeLessThanOrEqual(CHUNK_BYTES);
        assembler.push(chunk);
        chunks++;
      }
      expect(chunks).toBe(header.chunkCount);
      expect(assembler.finish()).toEqual(values);
    }), { numRuns: 15 });
  });

  it('refuses out-of-order, short, extra and corrupted chunks, and non-finite values', () => {
    const layout = layoutFor([300_000]);
    const values = new Float32Array(300_000).fill(0.25);
    const header = makeHeader(layout, values);
    const [first, second] = [...chunksOf(values)];
    expect(codeOf(() => new TensorAssembler(header).push(second!))).toBe('MALFORMED_STREAM');
    expect(codeOf(() => new TensorAssembler(header).push({ index: 0, data: first!.data.subarray(4) }))).toBe('MALFORMED_STREAM');
    const full = new TensorAssembler(header);
    full.push(first!);
    full.push(second!);
    expect(codeOf(() => full.push(second!))).toBe('MALFORMED_STREAM');
    const tampered = new TensorAssembler(header);
    const changed = Buffer.from(second!.data);
    changed[0] = changed[0]! ^ 1;
    tampered.push(first!);
    tampered.push({ index: 1, data: changed });
    expect(codeOf(() => tampered.finish())).toBe('DIGEST_MISMATCH');
    const incomplete = new TensorAssembler(header);
    incomplete.push(first!);
    expect(codeOf(() => incomplete.finish())).toBe('MALFORMED_STREAM');
    const nan = Float32Array.from(values);
    nan[5] = NaN;
    const [nanChunk] = [...chunksOf(nan)];
    expect(codeOf(() => new TensorAssembler(makeHeader(layout, nan)).push(nanChunk!))).toBe('NON_FINITE_VALUE');
  });

  it('checks the layout against the expected one and against the element count', () => {
    const layout = layoutFor([10]);
    const header = makeHeader(layout, new Float32Array(10));
    expect(codeOf(() => new TensorAssembler(header, { expectedLayout: layoutFor([5, 5]) }))).toBe('LAYOUT_MISMATCH');
    expect(codeOf(() => new TensorAssembler({ ...header, totalElements: 11 }))).toBe('LAYOUT_MISMATCH');
    expect(codeOf(() => makeHeader(layout, new Float32Array(9)))).toBe('LAYOUT_MISMATCH');
    expect(codeOf(() => new TensorAssembler({ ...header, layout: [{ name: 'x', shape: [0], dtype: 'float32' }] }))).toBe('LAYOUT_MISMATCH');
  });
});
