import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { axpy, divided, stepped, sumOfSquares } from './kernels.ts';

const floats = (min: number, max: number) => fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e6), max: Math.fround(1e6) }), { minLength: min, maxLength: max }).map((a) => Float32Array.from(a));

describe('whole-model kernels', () => {
  it('give the plain loops\' results bit for bit, across block edges', () => {
    // Sizes around the block (2^15) and one far past it.
    for (const n of [0, 1, 32767, 32768, 32769, 100_003]) {
      const x = new Float32Array(n).map((_, i) => Math.fround(Math.sin(i) * 3.7));
      const base = new Float32Array(n).map((_, i) => Math.fround(Math.cos(i)));
      const sum = new Float64Array(n).map((_, i) => i * 1e-3);
      const plainSum = sum.slice();
      for (let i = 0; i < n; i++) plainSum[i]! += 2.5 * x[i]!;
      axpy(sum, x, 2.5);
      expect(Buffer.from(sum.buffer).equals(Buffer.from(plainSum.buffer))).toBe(true);

      const plainDiv = new Float32Array(n);
      for (let i = 0; i < n; i++) plainDiv[i] = sum[i]! / 7;
      expect(Buffer.from(divided(sum, 7).buffer).equals(Buffer.from(plainDiv.buffer))).toBe(true);

      const plainStep = new Float32Array(n);
      for (let i = 0; i < n; i++) plainStep[i] = base[i]! + 0.3 * x[i]!;
      expect(Buffer.from(stepped(base, x, 0.3).buffer).equals(Buffer.from(plainStep.buffer))).toBe(true);

      let ssq = 0;
      for (let i = 0; i < n; i++) ssq += x[i]! * x[i]!;
      expect(sumOfSquares(x)).toEqual({ ssq, nonFinite: -1 });
    }
  });

  it('finds the first non-finite element wherever it is', () => {
    fc.assert(fc.property(floats(1, 70_000), fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity), (x, at, bad) => {
      const i = at % x.length;
      x[i] = bad;
      expect(sumOfSquares(x).nonFinite).toBe(i);
    }), { numRuns: 30 });
  });
});
