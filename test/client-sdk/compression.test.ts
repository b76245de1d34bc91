import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeUpdate, type TensorSpec } from '../../protocols/index.ts';
import { UpdateCompressor } from '../../client-sdk/compression.ts';

const LAYOUT: TensorSpec[] = [{ name: 'w', shape: [4], dtype: 'float32' }];
const topk = (ratio: number) => ({ kind: 'topk', topkRatio: ratio });
const decode = (enc: ReturnType<UpdateCompressor['encode']>) => [...decodeUpdate(enc.encoding, enc.q8Scales, enc.values, enc.layout, LAYOUT)];

describe('top-k with error feedback at the site', () => {
  it('carries what it left out into the next rounds, by hand', () => {
    const c = new UpdateCompressor();
    // k = ceil(0.25 · 4) = 1.
    expect(decode(c.encode(Float32Array.from([1, 0.5, 0.2, 0]), LAYOUT, topk(0.25)))).toEqual([1, 0, 0, 0]);
    expect([...c.pending()!].map((x) => +x.toFixed(6))).toEqual([0, 0.5, 0.2, 0]);
    // 0.5 + 0.1 = 0.6 beats 0.2 + 0.3 = 0.5.
    expect(decode(c.encode(Float32Array.from([0, 0.1, 0.3, 0]), LAYOUT, topk(0.25))).map((x) => +x.toFixed(6))).toEqual([0, 0.6, 0, 0]);
    // The 0.5 left at index 2 goes out once nothing larger arrives.
    expect(decode(c.encode(new Float32Array(4), LAYOUT, topk(0.25))).map((x) => +x.toFixed(6))).toEqual([0, 0, 0.5, 0]);
    expect([...c.pending()!]).toEqual([0, 0, 0, 0]);
  });

  it('loses nothing: what was sent plus what is pending is the sum of all deltas', () => {
    const vec = fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 });
    fc.assert(fc.property(fc.array(vec, { minLength: 1, maxLength: 6 }), fc.constantFrom(0.25, 0.5, 1), (rounds, ratio) => {
      const c = new UpdateCompressor();
      const sent = new Float64Array(4);
      const total = new Float64Array(4);
      for (const d of rounds) {
        decode(c.encode(Float32Array.from(d), LAYOUT, topk(ratio))).forEach((x, i) => (sent[i]! += x));
        d.forEach((x, i) => (total[i]! += Math.fround(x)));
      }
      const pending = c.pending()!;
      for (let i = 0; i < 4; i++) expect(sent[i]! + pending[i]!).toBeCloseTo(total[i]!, 3);
    }), { numRuns: 200 });
  });

  it('drops the residual when compression is switched off or the model changes size, and refuses a bad plan', () => {
    const c = new UpdateCompressor();
    c.encode(Float32Array.from([1, 0.5, 0, 0]), LAYOUT, topk(0.25));
    expect(c.encode(Float32Array.from([1, 2, 3, 4]), LAYOUT, null)).toMatchObject({ encoding: '', q8Scales: [] });
    expect(c.pending()).toBeNull();
    c.encode(Float32Array.from([1, 0.5, 0, 0]), LAYOUT, topk(0.25));
    const two: TensorSpec[] = [{ name: 'w', shape: [2], dtype: 'float32' }];
    expect([...decodeUpdate('topk', [], c.encode(Float32Array.from([0.1, 0.2]), two, topk(0.5)).values, [{ name: 'indices', shape: [1], dtype: 'uint32' }, { name: 'values', shape: [1], dtype: 'uint32' }], two)].map((x) => +x.toFixed(6))).toEqual([0, 0.2]);
    expect(() => c.encode(new Float32Array(4), LAYOUT, topk(0))).toThrow(/top-k ratio must be in \(0, 1\]/);
    expect(() => c.encode(new Float32Array(4), LAYOUT, { kind: 'zip', topkRatio: 0 })).toThrow(/does not know the update compression "zip"/);
  });
});
