import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  assertNoWrap, chooseGranularity, conditionalRound, decodeSum, distributedDiscreteEpsilon, distributedDiscreteRdp, ddgTau,
  encodeSiteUpdate, encodedLength, requiredSumBits, roundedL2Bound, validateDistributedDiscreteEvent,
  type DistributedDiscreteEvent,
} from './ddg.ts';
import { SeededRandom, discreteGaussianSamples } from './discrete-gaussian.ts';
import { rotate, unrotate } from './rotation.ts';
import { composeRdp } from './rdp-compose.ts';
import { epsilonFromRdp } from './rdp.ts';

const seed = (b: number) => new Uint8Array(32).fill(b);
const BETA = Math.exp(-0.5);
/** The orders of the reference code (2…128, 256). */
const REF_ORDERS = [...Array.from({ length: 127 }, (_, i) => i + 2), 256];

describe('accountant against the paper\'s public code', () => {
  // ε computed by re-typing, by hand, the formulas of google-research/federated
  // distributed_dp/accounting_utils.py (ddgauss_epsilon, skellam_epsilon with its central stddev
  // = local·√n, tfp get_privacy_spent) in Python/scipy, at the reference orders.
  // [γ, local stddev, n, C, β, d, q, T, δ, ε DDG, ε Skellam]
  const cases: [number, number, number, number, number, number, number, number, number, number, number][] = [
    [1e-4, 0.1, 100, 1.0, BETA, 65536, 0.01, 1000, 1e-5, 2.45104305732911, 2.4510430816853312],
    [0.05, 0.3, 16, 1.0, BETA, 1024, 1.0, 1, 1e-5, 5.256200559042045, 5.264022101287415],
    [0.01, 0.05, 1000, 0.5, BETA, 1000000, 0.001, 5000, 1e-6, 135.32390576903268, 135.43454932423055],
    [0.01, 0.01, 20, 0.05, BETA, 64, 0.1, 100, 1e-5, 20.861265402671695, 24.223780267868214],
    [0.02, 0.05, 10, 1.0, 0, 1000, 1.0, 1, 1e-5, 116.7230736665444, 118.99338828804903],
    [0.001, 0.02, 500, 1.0, BETA, 100000, 0.02, 2000, 1e-6, 142.61904182347067, 142.6230045413969],
  ];
  for (const [g, s, n, c, b, d, q, t, delta, ddg, skellam] of cases) {
    it(`γ=${g} σ=${s} n=${n} C=${c} β=${b.toFixed(3)} d=${d} q=${q} T=${t}`, () => {
      const base = { clip: c, localStddev: s, clients: n, dim: d, granularity: g, beta: b, sampleRate: q, count: t };
      const e1 = distributedDiscreteEpsilon([{ mechanism: 'ddg', ...base }], delta, { orders: REF_ORDERS }).epsilon;
      const e2 = distributedDiscreteEpsilon([{ mechanism: 'skellam', ...base }], delta, { orders: REF_ORDERS }).epsilon;
      expect(Math.abs(e1 - ddg) / ddg).toBeLessThan(1e-9);
      expect(Math.abs(e2 - skellam) / skellam).toBeLessThan(1e-9);
    });
  }

  it('τ by hand: n = 3, σ = 1 gives 10·(e^{−π²} + e^{−4π²/3})', () => {
    expect(ddgTau(3, 1)).toBeCloseTo(10 * (Math.exp(-(Math.PI ** 2)) + Math.exp((-4 * Math.PI ** 2) / 3)), 15);
    expect(ddgTau(1, 0.5)).toBe(0);
  });

  it('rounded norm bound by hand (paper Thm 1)', () => {
    expect(roundedL2Bound(10, 0, 100)).toBe(20);
    const b = Math.sqrt(100 + 25 + Math.sqrt(2 * 0.5) * (10 + 5));
    expect(roundedL2Bound(10, BETA, 100)).toBeCloseTo(b, 12);
  });
});

/** log Σ exp(v) */
function logSumExp(v: number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** log pmf of the sum of n N_Z(0, σ²) on [−L, L], by convolution in log space (tails far below e^−745 included). */
function sumLogPmf(n: number, sigma: number, L: number): Float64Array {
  const one = new Float64Array(2 * L + 1);
  for (let x = -L; x <= L; x++) one[x + L] = -(x * x) / (2 * sigma * sigma);
  const logZ = logSumExp([...one]);
  for (let i = 0; i < one.length; i++) one[i]! -= logZ;
  let acc = one;
  for (let k = 1; k < n; k++) {
    const next = new Float64Array(2 * L + 1);
    for (let c = 0; c < next.length; c++) {
      const terms: number[] = [];
      for (let a = Math.max(0, c - 2 * L); a <= Math.min(2 * L, c + 2 * L); a++) {
        const b = c - a + L;
        if (b >= 0 && b < one.length) terms.push(acc[a]! + one[b]!);
      }
      next[c] = logSumExp(terms);
    }
    acc = next;
  }
  return acc;
}

/** D_α(P‖Q) by direct summation, from log pmfs. */
function renyi(lp: Float64Array, lq: Float64Array, alpha: number): number {
  const terms: number[] = [];
  for (let i = 0; i < lp.length; i++) if (lp[i]! > -Infinity && lq[i]! > -Infinity) terms.push(alpha * lp[i]! + (1 - alpha) * lq[i]!);
  return logSumExp(terms) / (alpha - 1);
}

describe('accountant against exact Rényi divergences (one dimension, by direct summation)', () => {
  // d = 1, β = 0, γ = 1: Δ₂ = C + 1, an integer shift s. The exact divergence between the sum of n
  // discrete Gaussians and its shift by s (and, subsampled, the mixture with it) must never exceed
  // the accountant's per-round bound, and for one site (τ = 0) it equals αs²/(2σ²).
  const orders = [2, 3, 4, 6, 8, 12, 16];
  for (const [n, sigma, s] of [[1, 1.5, 2], [1, 0.7, 3], [2, 0.6, 2], [2, 1, 3], [3, 0.55, 2], [3, 2, 4]] as const) {
    it(`n=${n} σ=${sigma} shift ${s}`, () => {
      // Wide enough for the mass that order 16 puts near 16·s.
      const L = Math.ceil(40 * sigma * Math.sqrt(n)) + 20 * s;
      const p = sumLogPmf(n, sigma, L);
      const shifted = new Float64Array(p.length).fill(-Infinity);
      for (let i = s; i < p.length; i++) shifted[i] = p[i - s]!;
      for (const q of [1, 0.1]) {
        const mix = Float64Array.from(p, (v, i) => logSumExp([Math.log1p(-q) + v, Math.log(q) + shifted[i]!].filter((t) => t > -Infinity)));
        const event: DistributedDiscreteEvent = { mechanism: 'ddg', clip: s - 1, localStddev: sigma, clients: n, dim: 1, granularity: 1, beta: 0, sampleRate: q, count: 1 };
        const bound = distributedDiscreteRdp(event, orders);
        orders.forEach((a, i) => {
          const exact = Math.max(renyi(mix, p, a), renyi(p, mix, a));
          expect(exact).toBeLessThanOrEqual(bound[i]! * (1 + 1e-9) + 1e-12);
          if (n === 1 && q === 1) expect(exact).toBeCloseTo((a * s * s) / (2 * sigma * sigma), 6);
        });
      }
    });
  }
});

describe('ledger composition', () => {
  const ddg: DistributedDiscreteEvent = { mechanism: 'ddg', clip: 1, localStddev: 0.1, clients: 100, dim: 4096, granularity: 0.001, beta: BETA, sampleRate: 0.05, count: 10 };

  it('adds RDP curves with Gaussian events of the same ledger', () => {
    const gaussian = [{ noiseMultiplier: 1.1, sampleRate: 0.05, count: 20 }];
    const orders = [2, 4, 8, 16, 32, 64];
    const expected = epsilonFromRdp(orders, Float64Array.from(composeRdp(gaussian, orders), (v, i) => v + distributedDiscreteRdp(ddg, orders)[i]!), 1e-5);
    expect(distributedDiscreteEpsilon([ddg], 1e-5, { gaussian, orders })).toEqual(expected);
    expect(expected.epsilon).toBeGreaterThan(distributedDiscreteEpsilon([ddg], 1e-5, { orders }).epsilon);
  });

  it('two events of count k equal one of count 2k; ε grows with rounds and shrinks with noise and survivors', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 2, max: 500 }), fc.double({ min: 0.02, max: 1, noNaN: true }), (count, clients, q) => {
      const e = { ...ddg, count, clients, sampleRate: q };
      const one = distributedDiscreteEpsilon([e, e], 1e-5).epsilon;
      const two = distributedDiscreteEpsilon([{ ...e, count: 2 * count }], 1e-5).epsilon;
      expect(one).toBeCloseTo(two, 9);
      expect(distributedDiscreteEpsilon([{ ...e, count: count + 1 }], 1e-5).epsilon).toBeGreaterThanOrEqual(distributedDiscreteEpsilon([e], 1e-5).epsilon);
      expect(distributedDiscreteEpsilon([{ ...e, localStddev: 0.2 }], 1e-5).epsilon).toBeLessThanOrEqual(distributedDiscreteEpsilon([e], 1e-5).epsilon);
      expect(distributedDiscreteEpsilon([{ ...e, clients: clients - 1 }], 1e-5).epsilon).toBeGreaterThanOrEqual(distributedDiscreteEpsilon([e], 1e-5).epsilon);
    }), { numRuns: 30 });
  });

  it('rejects malformed events with DP_INVALID_EVENT', () => {
    expect(() => validateDistributedDiscreteEvent({ ...ddg, mechanism: 'laplace' })).toThrow(/mechanism/);
    expect(() => validateDistributedDiscreteEvent({ ...ddg, beta: 1 })).toThrow(/beta/);
    expect(() => validateDistributedDiscreteEvent({ ...ddg, clients: 1.5 })).toThrow(/clients/);
    expect(() => validateDistributedDiscreteEvent({ ...ddg, localStddev: 0.0001 })).toThrow(/1\/2/);
    expect(() => validateDistributedDiscreteEvent(null)).toThrow(/object/);
  });
});

describe('exact discrete Gaussian sampler', () => {
  it('mean, variance and a chi-square goodness of fit at σ = 1.5 (seeded, 100k draws)', () => {
    const sigma = 1.5;
    const n = 100_000;
    const x = discreteGaussianSamples(n, sigma, new SeededRandom(seed(1)));
    const pmf = new Map<number, number>();
    let z = 0;
    for (let v = -15; v <= 15; v++) z += Math.exp(-(v * v) / (2 * sigma * sigma));
    for (let v = -15; v <= 15; v++) pmf.set(v, Math.exp(-(v * v) / (2 * sigma * sigma)) / z);
    let variance = 0;
    for (const [v, p] of pmf) variance += v * v * p;
    const counts = new Map<number, number>();
    let mean = 0;
    let ss = 0;
    for (const v of x) {
      expect(Number.isInteger(v)).toBe(true);
      counts.set(v, (counts.get(v) ?? 0) + 1);
      mean += v;
      ss += v * v;
    }
    mean /= n;
    expect(Math.abs(mean)).toBeLessThan((4 * sigma) / Math.sqrt(n));
    expect(Math.abs(ss / n - variance) / variance).toBeLessThan(0.02);
    // Cells −5…5, tails pooled: 10 degrees of freedom, 99.99% quantile 35.6.
    let chi = 0;
    const cell = (lo: number, hi: number) => {
      let e = 0;
      let o = 0;
      for (const [v, p] of pmf) if (v >= lo && v <= hi) e += p * n;
      for (const [v, c] of counts) if (v >= lo && v <= hi) o += c;
      chi += ((o - e) * (o - e)) / e;
    };
    cell(-Infinity, -6);
    for (let v = -5; v <= 5; v++) cell(v, v);
    cell(6, Infinity);
    expect(chi).toBeLessThan(35.6);
  });

  it('has variance σ² over a range of σ (fast-check, seeded)', () => {
    fc.assert(fc.property(fc.double({ min: 2, max: 5000, noNaN: true }), fc.integer({ min: 0, max: 255 }), (sigma, s) => {
      const x = discreteGaussianSamples(20_000, sigma, new SeededRandom(seed(s)));
      let ss = 0;
      for (const v of x) ss += v * v;
      // 20k draws: the sample variance's relative std is √(2/20000) = 1%; allow 5 of them.
      expect(Math.abs(ss / x.length / (sigma * sigma) - 1)).toBeLessThan(0.05);
    }), { numRuns: 12 });
  });
});

describe('site encoding and the coordinator\'s decoding', () => {
  it('rotation is orthogonal and undone by the same public seed', () => {
    fc.assert(fc.property(fc.float32Array({ minLength: 1, maxLength: 300, noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }), (v) => {
      const r = rotate(v, seed(3));
      const n1 = Math.hypot(...v);
      expect(Math.abs(Math.hypot(...r) - n1)).toBeLessThan(1e-9 * (1 + n1));
      const back = unrotate(r, seed(3), v.length);
      back.forEach((b, i) => expect(Math.abs(b - v[i]!)).toBeLessThan(1e-9 * (1 + n1)));
    }), { numRuns: 50 });
  });

  it('conditional rounding stays within the bound, moves each coordinate by < 1 and is unbiased', () => {
    fc.assert(fc.property(fc.float64Array({ minLength: 1, maxLength: 64, min: -20, max: 20, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 255 }), (x, s) => {
      const norm = Math.hypot(...x);
      const bound = roundedL2Bound(Math.max(norm, 1e-9), BETA, x.length);
      const { rounded } = conditionalRound(x, bound * bound, new SeededRandom(seed(s)));
      expect(rounded.reduce((a, r) => a + r * r, 0)).toBeLessThanOrEqual(bound * bound);
      rounded.forEach((r, i) => {
        expect(Number.isInteger(r)).toBe(true);
        expect(Math.abs(r - x[i]!)).toBeLessThan(1);
      });
    }), { numRuns: 100 });
    // Unbiased: the mean of many roundings of 0.3 is 0.3.
    const x = new Float64Array(20_000).fill(0.3);
    const { rounded } = conditionalRound(x, 1e9, new SeededRandom(seed(9)));
    expect(Math.abs(rounded.reduce((a, b) => a + b, 0) / x.length - 0.3)).toBeLessThan(0.015);
  });

  it('n sites\' modular sum decodes to the sum of the clipped updates plus noise of std √n·σ', () => {
    const n = 8;
    const dim = 3000;
    const p = { clip: 1, localStddev: 0.05, beta: BETA, rotationSeed: seed(5) };
    const granularity = chooseGranularity({ ...p, dim: encodedLength(dim, true), sites: n });
    const sum = new Uint32Array(encodedLength(dim, true));
    const truth = new Float64Array(dim);
    let clippedCount = 0;
    for (let k = 0; k < n; k++) {
      const u = Float32Array.from({ length: dim }, (_, i) => Math.sin(i * (k + 1)) * (k + 1) * 0.02);
      const { values, clipped, norm } = encodeSiteUpdate(u, { ...p, granularity }, { random: new SeededRandom(seed(20 + k)) });
      if (clipped) clippedCount++;
      const f = Math.min(1, 1 / norm);
      u.forEach((v, i) => (truth[i]! += v * f));
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + values[i]!) >>> 0;
    }
    expect(clippedCount).toBeGreaterThan(0);
    expect(clippedCount).toBeLessThan(n);
    const decoded = decodeSum(sum, { granularity, dim, rotationSeed: seed(5) });
    let ss = 0;
    decoded.forEach((v, i) => (ss += (v - truth[i]!) ** 2));
    const std = Math.sqrt(ss / dim);
    expect(Math.abs(std / (Math.sqrt(n) * 0.05) - 1)).toBeLessThan(0.08);
  });

  it('the wrap bound: the worst-case sum (every site all its norm on one coordinate) decodes without wrapping', () => {
    // Noise so small against the clip that the 32-bit range, not the sampler's fast range, sets γ
    // (σ/γ ≈ 2,400: the sampler's BigInt path runs too).
    const n = 1000;
    const dim = 16;
    const p = { clip: 3, localStddev: 0.001, beta: 0, sites: n, dim };
    const granularity = chooseGranularity(p);
    expect(requiredSumBits({ ...p, granularity })).toBeLessThanOrEqual(32);
    expect(() => assertNoWrap({ ...p, granularity: granularity / 4 })).toThrow(/bits/);
    const sum = new Uint32Array(dim);
    const u = new Float32Array(dim);
    u[0] = 3;
    for (let k = 0; k < n; k++) {
      const { values } = encodeSiteUpdate(u, { ...p, granularity }, { random: new SeededRandom(seed(k)) });
      for (let i = 0; i < dim; i++) sum[i] = (sum[i]! + values[i]!) >>> 0;
    }
    const decoded = decodeSum(sum, { granularity, dim });
    expect(granularity).toBeGreaterThan(0.001 / 1024);
    expect(Math.abs(decoded[0]! - n * 3)).toBeLessThan(6 * Math.sqrt(n) * 0.001 + 6 * Math.sqrt(n) * granularity);
  });

  it('requiredSumBits grows with sites and shrinks with granularity; bad parameters are refused', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 1e-5, max: 1e-2, noNaN: true }), (sites, g) => {
      const p = { clip: 1, localStddev: 0.05, beta: BETA, dim: 1024, granularity: g, sites };
      expect(requiredSumBits({ ...p, sites: sites + 1 })).toBeGreaterThanOrEqual(requiredSumBits(p));
      expect(requiredSumBits({ ...p, granularity: 2 * g })).toBeLessThanOrEqual(requiredSumBits(p));
      expect(requiredSumBits({ ...p, mechanism: 'skellam' })).toBeGreaterThanOrEqual(requiredSumBits(p));
    }), { numRuns: 50 });
    const site = { clip: 1, localStddev: 0.05, granularity: 0.01, beta: BETA };
    expect(() => encodeSiteUpdate([1, 2], { ...site, granularity: 0.2 })).toThrow(/1\/2/);
    expect(() => encodeSiteUpdate([1, NaN], site)).toThrow(/non-finite/);
    expect(() => encodeSiteUpdate([1, 2], { ...site, beta: 1 })).toThrow(/beta/);
    expect(() => encodeSiteUpdate([1, 2], { ...site, rotationSeed: new Uint8Array(5) })).toThrow(/32 bytes/);
    expect(() => decodeSum(new Uint32Array(3), { granularity: 0.01, dim: 3, rotationSeed: seed(1) })).toThrow(/elements/);
  });
});
