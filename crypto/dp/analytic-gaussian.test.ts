import { describe, expect, it } from 'vitest';
import { analyticGaussianDelta, analyticGaussianSigma, gaussianEpsilon } from './analytic-gaussian.ts';

describe('analytic Gaussian mechanism (Balle & Wang 2018)', () => {
  it('δ(ε=1) for σ=1 is 0.126936 (dp_accounting test_gaussian_basic: √3 noise, 3 compositions)', () => {
    expect(Math.abs(analyticGaussianDelta(1, 1, 1) - 0.126936)).toBeLessThan(1e-6);
    expect(Math.abs(gaussianEpsilon(Math.sqrt(3) / Math.sqrt(3), 0.126936) - 1)).toBeLessThan(1e-5);
  });

  it('dp_accounting test_compute_epsilon_delta_gaussian: σ = 4.530877117 is exactly (1, 1e-6)-DP', () => {
    // That test uses the RDP conversion; the exact ε is smaller.
    expect(gaussianEpsilon(4.530877117, 1e-6)).toBeLessThan(1);
  });

  it('σ(ε, δ) and δ(ε, σ) are inverse and scale with sensitivity', () => {
    for (const [eps, delta] of [[0.5, 1e-5], [1, 1e-6], [4, 1e-9], [0.05, 1e-3]] as const) {
      const s = analyticGaussianSigma(eps, delta, 1);
      expect(Math.abs(analyticGaussianDelta(eps, s, 1) - delta) / delta).toBeLessThan(1e-8);
      expect(Math.abs(analyticGaussianSigma(eps, delta, 3) / s - 3)).toBeLessThan(1e-9);
      expect(Math.abs(gaussianEpsilon(s, delta) - eps) / eps).toBeLessThan(1e-8);
    }
  });
});

describe('analytic Gaussian: degenerate inputs', () => {
  it('δ(ε = ∞) = 0 (was NaN: ∞·0)', () => {
    expect(analyticGaussianDelta(Infinity, 1, 1)).toBe(0);
    expect(analyticGaussianDelta(Infinity, 1e-300, 1)).toBe(0);
  });

  it('tiny σ: ε is never below the loss Δ²/(2σ²) (σ = 1e-154 gave 1.6e-8 below it), ∞ only where that overflows', () => {
    for (const sigma of [1e-154, 1e-100, 1e-20, 1e-12]) {
      expect(gaussianEpsilon(sigma, 1e-5), `σ=${sigma}`).toBeGreaterThanOrEqual(1 / (2 * sigma * sigma));
      expect(gaussianEpsilon(sigma, 1e-5)).toBeLessThan(Infinity);
    }
    // ε = 1/(2σ²) + Φ̄⁻¹(δ)/σ − … exactly for the Gaussian: 1e-8 is resolvable.
    expect(Math.abs(gaussianEpsilon(1e-8, 1e-5) - (0.5e16 + 4.2649e8)) / 0.5e16).toBeLessThan(1e-12);
    expect(gaussianEpsilon(1e-155, 1e-5)).toBe(Infinity);
    expect(gaussianEpsilon(0, 1e-5)).toBe(Infinity);
    // Was capped at 1e8 and then reported as ∞.
    expect(gaussianEpsilon(5e-5, 1e-5)).toBeCloseTo(200_085_296.8, 0);
    expect(analyticGaussianDelta(0, 1e-160, 1)).toBe(1);
  });
});
