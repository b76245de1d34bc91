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
