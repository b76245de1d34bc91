import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PldAccountant, pldEpsilon } from './pld.ts';
import { RdpAccountant } from './rdp.ts';
import { gaussianEpsilon } from './analytic-gaussian.ts';
import { DpError } from './errors.ts';

describe('PLD accountant: dp_accounting published values (pld_privacy_accountant_test)', () => {
  it('test_gaussian_basic: Gaussian σ=√3 composed 1+2 times: δ(ε=1) = 0.126936, ε(δ) = 1', () => {
    const acc = new PldAccountant();
    acc.compose({ noiseMultiplier: Math.sqrt(3), sampleRate: 1, count: 1 });
    acc.compose({ noiseMultiplier: Math.sqrt(3), sampleRate: 1, count: 2 });
    expect(Math.abs(acc.delta(1) - 0.126936) / 0.126936).toBeLessThan(0.01);
    expect(acc.delta(1)).toBeGreaterThanOrEqual(0.126936 - 1e-6);
    expect(Math.abs(acc.epsilon(0.126936) - 1)).toBeLessThan(1e-3);
  });

  it('test_poisson_subsampled_gaussian: q=0.2, σ=0.5, 3 rounds: δ(ε=1) = 0.15594, ε(δ) = 1', () => {
    const acc = new PldAccountant();
    acc.compose({ noiseMultiplier: 0.5, sampleRate: 0.2, count: 1 });
    acc.compose({ noiseMultiplier: 0.5, sampleRate: 0.2, count: 2 });
    expect(Math.abs(acc.delta(1) - 0.15594) / 0.15594).toBeLessThan(0.01);
    expect(Math.abs(acc.epsilon(0.15594) - 1)).toBeLessThan(1e-3);
  });

  it('zero noise gives ε = ∞ (test_additive_noise_mechanisms_with_zero_noise_multiplier)', () => {
    expect(pldEpsilon([{ noiseMultiplier: 0, sampleRate: 0.1, count: 1 }], 0.01)).toBe(Infinity);
  });
});

describe('PLD accountant: exactness and dominance', () => {
  it('at q = 1, T rounds are never below the exact ε of one Gaussian with σ/√T, and within 0.1% above it', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.5, max: 20, noNaN: true }), fc.integer({ min: 1, max: 5000 }), (sigma, T) => {
        const exact = gaussianEpsilon(sigma / Math.sqrt(T), 1e-5);
        const pld = pldEpsilon([{ noiseMultiplier: sigma, sampleRate: 1, count: T }], 1e-5);
        expect(pld).toBeGreaterThanOrEqual(exact * (1 - 1e-12));
        expect(pld).toBeLessThanOrEqual(exact * 1.001 + 1e-4);
      }),
      { numRuns: 12 },
    );
  });

  it('is at most the RDP bound in typical DP-FL settings', () => {
    for (const [s, q, T] of [
      [1.5, 0.04, 2250],
      [1.1, 256 / 60000, 3000],
      [1.0, 0.01, 1000],
      [0.8, 0.1, 50],
      [3, 0.5, 10],
    ] as const) {
      const rdp = new RdpAccountant();
      rdp.compose({ noiseMultiplier: s, sampleRate: q, count: T });
      const p = pldEpsilon([{ noiseMultiplier: s, sampleRate: q, count: T }], 1e-5);
      expect(p, `σ=${s} q=${q} T=${T}`).toBeLessThanOrEqual(rdp.epsilon(1e-5).epsilon);
      expect(p).toBeGreaterThan(0);
    }
  });

  it('ε is monotone in rounds, q and σ', () => {
    const e = (s: number, q: number, T: number): number => pldEpsilon([{ noiseMultiplier: s, sampleRate: q, count: T }], 1e-5);
    const base = e(1.2, 0.05, 200);
    expect(e(1.2, 0.05, 400)).toBeGreaterThanOrEqual(base);
    expect(e(1.2, 0.08, 200)).toBeGreaterThanOrEqual(base);
    expect(e(1.5, 0.05, 200)).toBeLessThanOrEqual(base);
  });

  it('heterogeneous events: order does not matter and the pessimistic bucketing only raises ε', () => {
    const events = [
      { noiseMultiplier: 1.0, sampleRate: 0.02, count: 100 },
      { noiseMultiplier: 1.3, sampleRate: 0.05, count: 50 },
      { noiseMultiplier: 0.9, sampleRate: 0.01, count: 300 },
    ];
    const a = pldEpsilon(events, 1e-6);
    const b = pldEpsilon([...events].reverse(), 1e-6);
    expect(Math.abs(a - b)).toBeLessThan(1e-9);
    const bucketed = pldEpsilon(events, 1e-6, { maxDistinctEvents: 1 });
    expect(bucketed).toBeGreaterThanOrEqual(a);
  });

  it('rejects sampling without replacement with a typed error', () => {
    const acc = new PldAccountant();
    try {
      acc.compose({ noiseMultiplier: 1, sampleRate: 0.1, count: 1, sampling: 'without-replacement' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DpError);
      expect((err as DpError).code).toBe('DP_UNSUPPORTED_EVENT');
    }
  });
});

describe('nearly noiseless releases', () => {
  it('PLD refuses a grid too coarse to trust instead of reporting ε = 0, and tightestEpsilon falls back to RDP', async () => {
    const { computeEpsilon, tightestEpsilon } = await import('./accountant.ts');
    const events = [{ noiseMultiplier: 1e-4, sampleRate: 1, count: 1 }];
    expect(() => computeEpsilon(events, 1e-5, 'pld')).toThrow(/too wide for the PLD grid/);
    const best = tightestEpsilon(events, 1e-5);
    expect(best).toMatchObject({ accountant: 'rdp', pld: null });
    expect(best.epsilon).toBeGreaterThan(1e6);
  });
});

describe('degenerate noise: ε is +∞, never 0', () => {
  it('σ = 0 or σ too small for 1/(2σ²) to be a float64: ε = ∞ at any q and number of rounds (σ = 1e-155 gave 0)', () => {
    for (const sigma of [0, 1e-300, 1e-160, 1e-155]) {
      for (const q of [1, 0.5, 0.01]) {
        for (const count of [1, 1000]) {
          expect(pldEpsilon([{ noiseMultiplier: sigma, sampleRate: q, count }], 1e-5), `σ=${sigma} q=${q} T=${count}`).toBe(Infinity);
        }
      }
    }
    // mixed with ordinary events too
    expect(pldEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 100 }, { noiseMultiplier: 1e-155, sampleRate: 0.01, count: 1 }], 1e-5)).toBe(Infinity);
  });

  it('small σ at q = 1 over many rounds is never below the exact Gaussian ε (σ = 0.05, T = 1000 gave ε = 0)', () => {
    // The "add" pair's hockey-stick curve cancelled to log 0 for losses above ~37 nats (σ ≲ 0.3 at q = 1).
    for (const [sigma, T] of [[0.05, 1000], [0.1, 1000], [0.2, 1], [0.3, 10], [0.05, 1]] as const) {
      const exact = gaussianEpsilon(sigma / Math.sqrt(T), 1e-5);
      const pld = pldEpsilon([{ noiseMultiplier: sigma, sampleRate: 1, count: T }], 1e-5);
      expect(pld, `σ=${sigma} T=${T}`).toBeGreaterThanOrEqual(exact);
      expect(pld).toBeLessThanOrEqual(exact * 1.001);
    }
  });

  it('where the grid cannot hold the loss it refuses with DP_NUMERICAL rather than report a number', () => {
    for (const sigma of [1e-154, 1e-100, 1e-8]) {
      try {
        pldEpsilon([{ noiseMultiplier: sigma, sampleRate: 0.5, count: 10 }], 1e-5);
        expect.unreachable();
      } catch (err) {
        expect((err as DpError).code).toBe('DP_NUMERICAL');
      }
    }
  });
});

describe('many distinct events', () => {
  it('200 random events are composed exactly: ε equals the unbucketed composition (bucketing them into 64 gave +40%)', () => {
    let seed = 11;
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const events = Array.from({ length: 200 }, () => ({ noiseMultiplier: 0.8 + 1.2 * rnd(), sampleRate: 0.001 + 0.05 * rnd(), count: 1 + Math.floor(rnd() * 50) }));
    const eps = pldEpsilon(events, 1e-5);
    const bucketed = pldEpsilon(events, 1e-5, { maxDistinctEvents: 64 });
    expect(bucketed).toBeGreaterThan(eps * 1.2);
    // Independent check of the exact composition: never above RDP, and above the same history at its
    // most private event (largest σ, smallest q) everywhere.
    const rdp = new RdpAccountant();
    for (const e of events) rdp.compose(e);
    expect(eps).toBeLessThan(rdp.epsilon(1e-5).epsilon);
    const total = events.reduce((s, e) => s + e.count, 0);
    const best = pldEpsilon([{ noiseMultiplier: 2, sampleRate: 0.001, count: total }], 1e-5);
    expect(eps).toBeGreaterThan(best);
    // Within 1% of a composition on a 2× finer grid (2¹⁶ bins instead of 2¹⁵).
    const finer = pldEpsilon(events, 1e-5, { maxBins: 1 << 16 });
    expect(eps).toBeGreaterThanOrEqual(finer * (1 - 1e-9));
    expect(eps).toBeLessThanOrEqual(finer * 1.01);
  }, 20_000);
});
