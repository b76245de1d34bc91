import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SECOND_MOMENT, adaptiveStep, axpy, divided, momentumStep, scaled, stepped, sumOfSquares } from './kernels.ts';

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

      const plainScaled = new Float32Array(n);
      for (let i = 0; i < n; i++) plainScaled[i] = sum[i]! * (1 / 7);
      expect(Buffer.from(scaled(sum, 1 / 7).buffer).equals(Buffer.from(plainScaled.buffer))).toBe(true);

      // The noise add: axpy with weight 1 over a window is the plain `+=` (x·1 is exact).
      const at = Math.min(n, 5);
      const noise = new Float64Array(Math.min(n - at, 40_000)).map((_, i) => Math.tan(i) * 1e-2);
      const plainNoised = sum.slice();
      for (let i = 0; i < noise.length; i++) plainNoised[at + i]! += noise[i]!;
      const noised = sum.slice();
      axpy(noised.subarray(at, at + noise.length), noise, 1);
      expect(Buffer.from(noised.buffer).equals(Buffer.from(plainNoised.buffer))).toBe(true);

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

  it('server momentum and the adaptive rules match their per-element formulas bit for bit', () => {
    const same = (a: Float32Array, b: Float32Array) => expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    for (const n of [1, 32768, 70_001]) {
      const base = new Float32Array(n).map((_, i) => Math.fround(Math.cos(i)));
      const delta = new Float32Array(n).map((_, i) => Math.fround(Math.sin(i * 1.3) * 1e-2));
      const prev = new Float32Array(n).map((_, i) => Math.fround(Math.sin(i) * 1e-3));
      const prevV = new Float32Array(n).map((_, i) => Math.fround(1e-4 + Math.abs(Math.cos(i)) * 1e-3));
      for (const previous of [null, prev]) {
        const { velocity, next } = momentumStep(base, delta, previous, 0.9, 0.7);
        const rv = new Float32Array(n);
        const rn = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const v = 0.9 * (previous?.[i] ?? 0) + delta[i]!;
          rv[i] = v;
          rn[i] = base[i]! + 0.7 * v;
        }
        same(velocity, rv);
        same(next, rn);
      }
      const [lr, beta1, beta2, tau] = [0.01, 0.9, 0.99, 1e-3];
      const rules = {
        fedadam: (v: number, g2: number) => beta2 * v + (1 - beta2) * g2,
        fedyogi: (v: number, g2: number) => v - (1 - beta2) * g2 * Math.sign(v - g2),
        fedadagrad: (v: number, g2: number) => v + g2,
      };
      for (const [kind, rule] of Object.entries(rules) as Array<[keyof typeof rules, (v: number, g2: number) => number]>) {
        for (const [pm, pv] of [[null, null], [prev, prevV]] as const) {
          const out = adaptiveStep(base, delta, pm, pv, SECOND_MOMENT[kind], { lr, beta1, beta2, tau });
          const m = new Float32Array(n);
          const v = new Float32Array(n);
          const next = new Float32Array(n);
          for (let i = 0; i < n; i++) {
            const g = delta[i]!;
            const mi = beta1 * (pm?.[i] ?? 0) + (1 - beta1) * g;
            const vi = rule(pv?.[i] ?? tau * tau, g * g);
            m[i] = mi;
            v[i] = vi;
            next[i] = base[i]! + (lr * mi) / (Math.sqrt(vi) + tau);
          }
          same(out.m, m);
          same(out.v, v);
          same(out.next, next);
        }
      }
    }
  });
});
