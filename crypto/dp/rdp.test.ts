import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_ORDERS,
  RdpAccountant,
  epsilonFromRdp,
  logAQuadrature,
  rdpAtOrders,
  rdpPoissonGaussian,
  rdpVector,
  rdpWithoutReplacementGaussian,
} from './rdp.ts';
import type { GaussianEvent } from './events.ts';
import { gaussianEpsilon } from './analytic-gaussian.ts';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/** A_α = E_{z~N(0,σ²)}[(1 − q + q·e^{(2z−1)/(2σ²)})^α] by a wide trapezoid rule in log space. */
function logAByQuadrature(q: number, s: number, a: number): number {
  // The integrand peaks where log-density + α·log-ratio is maximal; integrate ±40 widths around both modes.
  const lo = -40 * s - 5;
  const hi = 40 * s + 5 + (a / s) * 2;
  const n = 200_000;
  const h = (hi - lo) / n;
  const vals = new Float64Array(n + 1);
  let max = -Infinity;
  for (let i = 0; i <= n; i++) {
    const z = lo + i * h;
    const u = (2 * z - 1) / (2 * s * s);
    const m = u > 0 ? u + Math.log(q + (1 - q) * Math.exp(-u)) : Math.log1p(q * Math.expm1(u));
    const v = -(z * z) / (2 * s * s) - Math.log(s * Math.sqrt(2 * Math.PI)) + a * m;
    vals[i] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i <= n; i++) sum += (i === 0 || i === n ? 0.5 : 1) * Math.exp(vals[i]! - max);
  return max + Math.log(sum * h);
}

describe('RDP of the Poisson-subsampled Gaussian: published values', () => {
  it('dp_accounting rdp_privacy_accountant_test / TF Privacy: q=0.01, σ=2.5, 50 steps (rtol 1e-4 as published)', () => {
    const orders = [1.5, 2.5, 5, 50, 100];
    const expected = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2];
    const got = rdpAtOrders({ noiseMultiplier: 2.5, sampleRate: 0.01, count: 50 }, orders);
    orders.forEach((_, i) => expect(rel(got[i]!, expected[i]!)).toBeLessThan(1e-4));
    expect(rdpPoissonGaussian(0.01, 2.5, Infinity)).toBe(Infinity);
  });

  it('TF Privacy rdp_accountant_test: compute_rdp(0.1, 2, 10, 5) ≈ 0.07737 (5 places)', () => {
    const [r] = rdpAtOrders({ noiseMultiplier: 2, sampleRate: 0.1, count: 10 }, [5]);
    expect(Math.abs(r! - 0.07737)).toBeLessThan(5e-6);
  });

  it('Opacus accountants_test: σ=1.5, q=0.04, 2250 steps, δ=1e-5 → ε = 7.32911117143 (to 1e-9 relative)', () => {
    const opacusOrders: number[] = [];
    for (let x = 1; x < 100; x++) opacusOrders.push(1 + x / 10);
    for (let a = 12; a < 64; a++) opacusOrders.push(a);
    const acc = new RdpAccountant(opacusOrders);
    for (let i = 0; i < 2250; i++) acc.compose({ noiseMultiplier: 1.5, sampleRate: 0.04, count: 1 });
    const { epsilon } = acc.epsilon(1e-5);
    expect(rel(epsilon, 7.32911117143)).toBeLessThan(1e-9);
  });

  it('dp_accounting: log A_α equals numerical integration (published parameter sets; rtol 1e-6)', () => {
    const params: [number, number, number][] = [
      [1e-6, 1, 27],
      [1e-4, 1, 1.5],
      [1e-3, 1, 2],
      [0.01, 10, 20],
      [0.1, 100, 20.5],
      [0.99, 0.1, 256],
      [0.999, 100, 256.1],
      [0.01, 2.5, 1.5],
      [0.2, 0.8, 3.7],
    ];
    for (const [q, s, a] of params) {
      const logA = rdpPoissonGaussian(q, s, a) * (a - 1);
      const ref = logAByQuadrature(q, s, a);
      // float64 quadrature of A ≈ 1 + 1e-10 is itself only good to ~1e-14 absolute in log A.
      expect(Math.abs(logA - ref), `q=${q} σ=${s} α=${a}`).toBeLessThan(1e-6 * Math.abs(ref) + 1e-13);
    }
  });

  it('fractional orders are continuous with integer orders', () => {
    for (const [q, s] of [[0.01, 1], [0.05, 0.7], [0.3, 2]] as const) {
      for (const a of [2, 3, 5, 8]) {
        const exact = rdpPoissonGaussian(q, s, a);
        const near = rdpPoissonGaussian(q, s, a + 1e-7);
        expect(rel(near, exact)).toBeLessThan(1e-5);
      }
    }
  });

  it('q = 1 is the plain Gaussian α/(2σ²); σ = 0 is infinite (dp_accounting test_compute_rdp_gaussian)', () => {
    expect(rel(rdpPoissonGaussian(1, 2.71828, 3.14159), 3.14159 / (2 * 2.71828 ** 2))).toBeLessThan(1e-15);
    const v = rdpVector({ noiseMultiplier: 0, sampleRate: 0.1, count: 3 });
    expect([...v].every((x) => x === Infinity)).toBe(true);
    const acc = new RdpAccountant();
    acc.compose({ noiseMultiplier: 0, sampleRate: 0.5, count: 1 });
    expect(acc.epsilon(0.1).epsilon).toBe(Infinity);
  });
});

describe('RDP → (ε, δ) conversion', () => {
  it('dp_accounting test_compute_epsilon_delta_pure_dp: constant RDP 1.1 on orders 2..32 → 1.32783806176 at order 32', () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const { epsilon, order } = epsilonFromRdp(orders, orders.map(() => 1.1), 1e-5);
    expect(Math.abs(epsilon - 1.32783806176)).toBeLessThan(1e-10);
    expect(order).toBe(32);
  });

  it('dp_accounting test_compute_epsilon_delta_gaussian: σ=4.530877117, orders 1..100 step 0.001 → ε = 1 at δ = 1e-6', () => {
    const orders: number[] = [];
    for (let i = 1001; i < 100000; i++) orders.push(0.001 * i);
    const rdp = orders.map((a) => rdpPoissonGaussian(1, 4.530877117, a));
    expect(Math.abs(epsilonFromRdp(orders, rdp, 1e-6).epsilon - 1)).toBeLessThan(1e-7);
  });

  it('DEFAULT_ORDERS has the documented grid', () => {
    expect(DEFAULT_ORDERS.length).toBe(99 + 53 + 8);
    expect(DEFAULT_ORDERS[0]).toBeCloseTo(1.1, 12);
    expect(DEFAULT_ORDERS[98]).toBeCloseTo(10.9, 12);
    expect([...DEFAULT_ORDERS.slice(99, 152)]).toEqual(Array.from({ length: 53 }, (_, i) => i + 11));
    expect([...DEFAULT_ORDERS.slice(152)]).toEqual([80, 96, 128, 160, 192, 256, 512, 1024]);
  });
});

const eventArb = fc.record({
  noiseMultiplier: fc.double({ min: 0.5, max: 5, noNaN: true }),
  sampleRate: fc.double({ min: 1e-3, max: 1, noNaN: true }),
  count: fc.integer({ min: 1, max: 50 }),
});

describe('RDP properties', () => {
  it('heterogeneous composition depends only on the multiset of events', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 5 }), fc.integer(), (events, seed) => {
        const a = new RdpAccountant();
        for (const e of events) a.compose(e);
        const shuffled = [...events].sort((x, y) => ((x.count * 31 + seed) % 7) - ((y.count * 31 + seed) % 7) || x.sampleRate - y.sampleRate);
        const b = new RdpAccountant();
        for (const e of shuffled) b.compose(e);
        const ra = a.rdp;
        const rb = b.rdp;
        for (let i = 0; i < ra.length; i++) {
          if (Number.isFinite(ra[i]!)) expect(Math.abs(ra[i]! - rb[i]!)).toBeLessThanOrEqual(1e-12 * Math.abs(ra[i]!));
          else expect(rb[i]).toBe(ra[i]);
        }
        // and it equals the sum of per-event curves
        const sum = new Float64Array(DEFAULT_ORDERS.length);
        for (const e of events) rdpVector(e).forEach((v, i) => (sum[i] = sum[i]! + v));
        for (let i = 0; i < sum.length; i++) if (Number.isFinite(sum[i]!)) expect(rel(ra[i]! + 1e-300, sum[i]! + 1e-300)).toBeLessThan(1e-12);
      }),
      { numRuns: 15 },
    );
  });

  it('ε is non-decreasing in rounds and q, non-increasing in σ', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.6, max: 4, noNaN: true }),
        fc.double({ min: 1e-3, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 2000 }),
        (sigma, q, rounds) => {
          const eps = (e: GaussianEvent): number => {
            const acc = new RdpAccountant();
            acc.compose(e);
            return acc.epsilon(1e-5).epsilon;
          };
          const base = eps({ noiseMultiplier: sigma, sampleRate: q, count: rounds });
          expect(eps({ noiseMultiplier: sigma, sampleRate: q, count: rounds + 7 })).toBeGreaterThanOrEqual(base - 1e-12);
          expect(eps({ noiseMultiplier: sigma, sampleRate: Math.min(1, q * 1.2), count: rounds })).toBeGreaterThanOrEqual(base - 1e-12);
          expect(eps({ noiseMultiplier: sigma * 1.1, sampleRate: q, count: rounds })).toBeLessThanOrEqual(base + 1e-12);
        },
      ),
      { numRuns: 10 },
    );
  });
});

describe('sampling without replacement (Wang, Balle & Kasiviswanathan 2019)', () => {
  it('is the Gaussian at sensitivity 2C (multiplier σ/2) at q = 1, monotone in q, and never below the Poisson curve at the same q', () => {
    // Replace-one adjacency: one record moves the clipped sum by up to 2C, so RDP(α) = α·(2C)²/(2σ²C²) = 2α/σ².
    expect(rel(rdpWithoutReplacementGaussian(1, 2, 5), (2 * 5) / 4)).toBeLessThan(1e-15);
    let prev = 0;
    for (const q of [0.001, 0.01, 0.05, 0.2]) {
      const w = rdpWithoutReplacementGaussian(q, 1.2, 8);
      expect(w).toBeGreaterThan(prev);
      prev = w;
      expect(w).toBeGreaterThanOrEqual(rdpPoissonGaussian(q, 1.2, 8) * 0.999);
    }
    const frac = rdpWithoutReplacementGaussian(0.01, 1, 4.5);
    expect(frac).toBeGreaterThan(0);
    expect(Number.isFinite(frac)).toBe(true);
  });
});

describe('sampling without replacement is accounted at sensitivity 2C', () => {
  it('at q = 1 the ε is never below the exact analytic Gaussian ε at σ/2 (Balle & Wang 2018) and within 15% above it', () => {
    for (const sigma of [0.7, 1, 2, 5]) {
      for (const rounds of [1, 10, 1000]) {
        const acc = new RdpAccountant();
        acc.compose({ noiseMultiplier: sigma, sampleRate: 1, count: rounds, sampling: 'without-replacement' });
        const { epsilon } = acc.epsilon(1e-5);
        // T Gaussians of multiplier s compose exactly to one of multiplier s/√T (Dong, Roth & Su 2019).
        const exact = gaussianEpsilon(sigma / 2 / Math.sqrt(rounds), 1e-5);
        expect(epsilon, `σ=${sigma} T=${rounds}`).toBeGreaterThanOrEqual(exact);
        expect(epsilon).toBeLessThanOrEqual(exact * 1.15);
      }
    }
    // The CLI's example: σ = 1, one round: the sensitivity-C accounting gave 4.73, the truth is ≥ 9.9.
    const acc = new RdpAccountant();
    acc.compose({ noiseMultiplier: 1, sampleRate: 1, count: 1, sampling: 'without-replacement' });
    expect(acc.epsilon(1e-5).epsilon).toBeGreaterThanOrEqual(gaussianEpsilon(0.5, 1e-5));
    expect(gaussianEpsilon(0.5, 1e-5)).toBeGreaterThan(9.9);
  });

  it('at q < 1 the bound grows with q towards the full Gaussian at σ/2 (WBK19 Thm 9)', () => {
    const full = rdpWithoutReplacementGaussian(1, 1.5, 6);
    let prev = 0;
    for (const q of [0.01, 0.1, 0.5, 0.9, 0.999]) {
      const v = rdpWithoutReplacementGaussian(q, 1.5, 6);
      expect(v).toBeGreaterThan(prev);
      prev = v;
    }
    expect(prev).toBeLessThanOrEqual(full * 1.0001 + 1);
  });
});

describe('degenerate noise: ε is +∞ or a large finite value, never 0 or NaN', () => {
  it('σ = 0 or σ too small for 1/(2σ²) to be a float64 gives RDP = ∞ at every order and q', () => {
    for (const sigma of [0, 1e-300, 1e-160, 1e-155]) {
      for (const q of [1, 0.5, 0.01]) {
        for (const a of [1.5, 2, 32, 1024]) {
          expect(rdpPoissonGaussian(q, sigma, a), `σ=${sigma} q=${q} α=${a}`).toBe(Infinity);
          expect(rdpWithoutReplacementGaussian(q, sigma, a)).toBe(Infinity);
        }
        const acc = new RdpAccountant();
        acc.compose({ noiseMultiplier: sigma, sampleRate: q, count: 1000 });
        expect(acc.epsilon(1e-5).epsilon).toBe(Infinity);
      }
    }
  });

  it('tiny σ > 0 at q < 1: RDP(α) = α/(2σ²) + α·log(q)/(α−1) + o(1) at integer and fractional orders (was 0 at integer orders for σ ≲ 1e-8)', () => {
    for (const sigma of [1e-150, 1e-100, 1e-8, 1e-5]) {
      for (const q of [0.5, 0.01]) {
        for (const a of [1.5, 2, 3, 32, 1024]) {
          // Dominant term of A_α: the k = α (or z ≈ α) part, q^α·e^{α(α−1)/(2σ²)}.
          const ref = a / (2 * sigma * sigma) + (a * Math.log(q)) / (a - 1);
          expect(rel(rdpPoissonGaussian(q, sigma, a), ref), `σ=${sigma} q=${q} α=${a}`).toBeLessThan(1e-6);
        }
      }
    }
    // At the edge of float64, log A_α itself overflows: ∞ is then the (only representable) upper bound.
    expect(rdpPoissonGaussian(0.5, 1e-154, 2)).toBeGreaterThanOrEqual(1e308);
    expect(rdpPoissonGaussian(0.5, 1e-154, 3)).toBe(Infinity);
    const acc = new RdpAccountant();
    acc.compose({ noiseMultiplier: 1e-8, sampleRate: 0.5, count: 1000 });
    expect(acc.epsilon(1e-5).epsilon).toBeGreaterThan(1000 / (2 * 1e-16));
  });
});

describe('fractional orders at larger q are computed, not reported as ∞ (checked against quadrature)', () => {
  it('grid of (q, σ, α) where the two-sided series does not settle: finite and equal to numerical integration (rtol 1e-7)', () => {
    for (const q of [0.1, 0.3, 0.5, 0.7, 0.9]) {
      for (const s of [0.5, 1, 2]) {
        for (const a of [1.1, 1.3, 1.6, 1.8, 2.5, 4.5]) {
          const logA = rdpPoissonGaussian(q, s, a) * (a - 1);
          expect(Number.isFinite(logA), `q=${q} σ=${s} α=${a}`).toBe(true);
          const ref = logAByQuadrature(q, s, a);
          expect(Math.abs(logA - ref), `q=${q} σ=${s} α=${a}`).toBeLessThan(1e-7 * Math.abs(ref) + 1e-12);
        }
      }
    }
  });

  it('logAQuadrature (the fallback) agrees with the series where both apply and with the reference quadrature', () => {
    for (const [q, s, a] of [[0.01, 2.5, 1.5], [0.2, 0.8, 3.7], [1e-4, 1, 1.5], [0.999, 100, 256.1], [0.5, 0.3, 10.9]] as const) {
      const ref = logAByQuadrature(q, s, a);
      // The reference integrates A_α itself, so near A_α = 1 it is good to ~1e-16 absolute only.
      expect(Math.abs(logAQuadrature(q, s, a) - ref), `q=${q} σ=${s} α=${a}`).toBeLessThan(1e-7 * ref + 1e-13);
      const series = rdpPoissonGaussian(q, s, a) * (a - 1);
      expect(Math.abs(logAQuadrature(q, s, a) - series)).toBeLessThan(1e-7 * series + 1e-13);
    }
  });

  it('q = 0.1, σ = 0.5, 100 steps on Opacus\' orders: ε equals the conversion of integrated RDP (was ~15% above)', () => {
    const orders: number[] = [];
    for (let x = 1; x < 100; x++) orders.push(1 + x / 10);
    for (let a = 12; a < 64; a++) orders.push(a);
    const acc = new RdpAccountant(orders);
    acc.compose({ noiseMultiplier: 0.5, sampleRate: 0.1, count: 100 });
    const ours = acc.epsilon(1e-5);
    const ref = epsilonFromRdp(orders, orders.map((a) => (100 * logAByQuadrature(0.1, 0.5, a)) / (a - 1)), 1e-5);
    expect(rel(ours.epsilon, ref.epsilon)).toBeLessThan(1e-6);
    expect(ours.order).toBe(ref.order);
    expect(ours.order).toBeLessThan(2);
  });
});
