import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeUpdate, encodeQ8, encodeTopK, quantize8, topKCount, topKIndices, updateExpectation, type TensorSpec } from './index.ts';

const LAYOUT: TensorSpec[] = [{ name: 'a', shape: [2, 2], dtype: 'float32' }, { name: 'b', shape: [3], dtype: 'float32' }];
const f32 = (xs: number[]) => Float32Array.from(xs);
/** Finite float32 values of a sensible magnitude (a delta). */
const delta = (n: number) => fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n }).map(f32);

describe('q8: 8-bit stochastic quantization with a per-tensor scale', () => {
  it('matches a hand computation', () => {
    // Tensor a: max |x| = 7.9375 = 127 · 2⁻⁴ → scale 0.0625 exactly; b: all zero → scale 0.
    const x = f32([7.9375, -3.96875, 0.03125, 0, 0, 0, 0]);
    // random() = 0 rounds every fractional level up: 127, -63.5 → -63, 0.5 → 1.
    const { bytes, scales } = quantize8(x, LAYOUT, () => 0);
    expect(scales).toEqual([0.0625, 0]);
    expect([...new Int8Array(bytes.buffer)]).toEqual([127, -63, 1, 0, 0, 0, 0]);
    // random() just below 1 rounds down: -63.5 → -64, 0.5 → 0.
    expect([...new Int8Array(quantize8(x, LAYOUT, () => 0.999999).bytes.buffer)]).toEqual([127, -64, 0, 0, 0, 0, 0]);
    const back = decodeUpdate('q8', scales, bytes, LAYOUT.map((s) => ({ ...s, dtype: 'bytes' })), LAYOUT);
    expect([...back]).toEqual([7.9375, -3.9375, 0.0625, 0, 0, 0, 0]);
    // A scale that is not a float32 multiple is rounded up, so no level exceeds 127.
    const { scales: up } = quantize8(f32([1.27, 0, 0, 0, 0, 0, 0]), LAYOUT, () => 0);
    expect(up[0]! * 127).toBeGreaterThanOrEqual(Math.fround(1.27));
    expect(up[0]).toBeCloseTo(0.01, 7);
  });

  it('round-trips every element within one step (its tensor\'s scale), levels in [-127, 127]', () => {
    fc.assert(fc.property(delta(7), fc.integer({ min: 1, max: 2 ** 31 }), (x, seed) => {
      let s = seed;
      const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const enc = encodeQ8(x, LAYOUT, random);
      const levels = new Int8Array(enc.values.buffer);
      expect(levels.every((q) => q >= -127 && q <= 127)).toBe(true);
      const back = decodeUpdate('q8', enc.q8Scales, enc.values, enc.layout, LAYOUT);
      for (let i = 0; i < 7; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(enc.q8Scales[i < 4 ? 0 : 1]! * (1 + 1e-6));
    }), { numRuns: 300 });
  });

  it('is unbiased: averaged over the rounding draw, the decoded value is the input', () => {
    // Averaging over u on a uniform grid of M points integrates E_u[q·s] exactly up to 1/M of a step.
    const M = 1000;
    fc.assert(fc.property(delta(7), (x) => {
      const sum = new Float64Array(7);
      let scales: number[] = [];
      for (let j = 0; j < M; j++) {
        const u = (j + 0.5) / M;
        const enc = encodeQ8(x, LAYOUT, () => u);
        scales = enc.q8Scales;
        decodeUpdate('q8', enc.q8Scales, enc.values, enc.layout, LAYOUT).forEach((v, i) => (sum[i]! += v));
      }
      for (let i = 0; i < 7; i++) expect(Math.abs(sum[i]! / M - x[i]!)).toBeLessThanOrEqual(scales[i < 4 ? 0 : 1]! * (1 / M + 1e-5));
    }), { numRuns: 30 });
  });

  it('refuses a missing, non-finite, negative or overflowing scale, a -128 level and a wrong length', () => {
    const bytesLayout = LAYOUT.map((s) => ({ ...s, dtype: 'bytes' as const }));
    const b = new Uint8Array(7);
    expect(() => decodeUpdate('q8', [0.1], b, bytesLayout, LAYOUT)).toThrow(/one scale per tensor \(2\), got 1/);
    expect(() => decodeUpdate('q8', [Number.NaN, 0.1], b, bytesLayout, LAYOUT)).toThrow(/scale of tensor 0 must be a finite number/);
    expect(() => decodeUpdate('q8', [0.1, -1], b, bytesLayout, LAYOUT)).toThrow(/scale of tensor 1/);
    expect(() => decodeUpdate('q8', [3e36, 0.1], b, bytesLayout, LAYOUT)).toThrow(/scale of tensor 0/);
    expect(() => decodeUpdate('q8', [0.1, 0.1], Uint8Array.from([0, 0, 128, 0, 0, 0, 0]), bytesLayout, LAYOUT)).toThrow(/level -128 at element 2/);
    expect(() => decodeUpdate('q8', [0.1, 0.1], new Uint8Array(6), bytesLayout, LAYOUT)).toThrow(/a q8 update is 7 bytes/);
    expect(() => updateExpectation('q4', LAYOUT)).toThrow(/unknown update encoding "q4"/);
  });
});

describe('top-k sparsification', () => {
  it('picks the largest magnitudes, ties to the lower index, by hand', () => {
    const v = f32([0.1, -3, 2, -2, 0.5]);
    expect([...topKIndices(v, 1)]).toEqual([1]);
    expect([...topKIndices(v, 2)]).toEqual([1, 2]);
    expect([...topKIndices(v, 3)]).toEqual([1, 2, 3]);
    expect([...topKIndices(v, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect([...topKIndices(f32([1, 1, 1, 1]), 2)]).toEqual([0, 1]);
    expect(topKCount(7, 0.1)).toBe(1);
    expect(topKCount(7, 0.5)).toBe(4);
    expect(topKCount(7, 1)).toBe(7);
    expect(() => topKIndices(v, 0)).toThrow(/k must be an integer in \[1, 5\]/);
  });

  it('decodes to the chosen coordinates and zeros elsewhere; no index is out of order, repeated or out of range', () => {
    fc.assert(fc.property(delta(7), fc.integer({ min: 1, max: 7 }), (x, k) => {
      const enc = encodeTopK(x, topKIndices(x, k));
      expect(enc.values.byteLength).toBe(8 * k);
      const back = decodeUpdate('topk', [], enc.values, enc.layout, LAYOUT);
      const kept = new Set(topKIndices(x, k));
      for (let i = 0; i < 7; i++) expect(back[i]).toBe(kept.has(i) ? x[i] : 0);
      // Nothing left out is larger than anything kept.
      const minKept = Math.min(...[...kept].map((i) => Math.abs(x[i]!)));
      for (let i = 0; i < 7; i++) if (!kept.has(i)) expect(Math.abs(x[i]!)).toBeLessThanOrEqual(minKept);
    }), { numRuns: 300 });
    const layout = (k: number) => [{ name: 'indices', shape: [k], dtype: 'uint32' as const }, { name: 'values', shape: [k], dtype: 'uint32' as const }];
    const pack = (ix: number[], vs: number[]) => Uint32Array.from([...ix, ...new Uint32Array(f32(vs).buffer)]);
    expect(() => decodeUpdate('topk', [], pack([2, 2], [1, 1]), layout(2), LAYOUT)).toThrow(/not above the previous one/);
    expect(() => decodeUpdate('topk', [], pack([3, 1], [1, 1]), layout(2), LAYOUT)).toThrow(/not above the previous one/);
    expect(() => decodeUpdate('topk', [], pack([1, 7], [1, 1]), layout(2), LAYOUT)).toThrow(/out of range \[0, 7\)/);
    expect(() => decodeUpdate('topk', [], pack([1], [Number.POSITIVE_INFINITY]), layout(1), LAYOUT)).toThrow(/not finite/);
    expect(() => decodeUpdate('topk', [], pack([0, 1, 2, 3, 4, 5, 6, 6], new Array(8).fill(1)), layout(8), LAYOUT)).toThrow(/at most 7 coordinates/);
    expect(() => decodeUpdate('topk', [], pack([1, 2], [1, 1]), [layout(2)[0]!, { name: 'values', shape: [1], dtype: 'uint32' }], LAYOUT)).toThrow(/"indices" \[k\] and "values" \[k\]/);
  });
});
