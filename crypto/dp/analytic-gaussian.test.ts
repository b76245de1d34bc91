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
