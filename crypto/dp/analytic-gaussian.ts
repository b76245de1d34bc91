/**
 * Analytic Gaussian mechanism: Balle & Wang, "Improving the Gaussian Mechanism for Differential
 * Privacy: Analytical Calibration and Optimal Denoising" (ICML 2018), Theorem 8: N(0, σ²) added to a
 * query of L2 sensitivity Δ is (ε, δ)-DP iff
 *     δ ≥ Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ).
 * This is exact (not a bound), so it is also the ground truth the PLD accountant must never undercut.
 */
import { assertDelta, invalidParameter } from './errors.ts';
import { logNormSf } from './special.ts';

function checkPositive(name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw invalidParameter(`${name} must be a positive finite number, got ${String(v)}`);
}

/** Tightest δ at which N(0, σ²) on a sensitivity-Δ query is ε-DP. */
export function analyticGaussianDelta(epsilon: number, sigma: number, sensitivity: number): number {
  if (!(epsilon >= 0)) throw invalidParameter(`epsilon must be ≥ 0, got ${String(epsilon)}`);
  checkPositive('sigma', sigma);
  checkPositive('sensitivity', sensitivity);
  const a = sensitivity / (2 * sigma);
  const b = (epsilon * sigma) / sensitivity;
  // Φ(a − b) = Φ̄(b − a); e^ε·Φ(−a − b) = exp(ε + log Φ̄(a + b)) avoids overflow of e^ε.
  const d = Math.exp(logNormSf(b - a)) - Math.exp(epsilon + logNormSf(a + b));
  return Math.min(1, Math.max(0, d));
}

/** Smallest σ (to ~1e-12 relative) such that N(0, σ²) is (ε, δ)-DP for sensitivity Δ. */
export function analyticGaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw invalidParameter(`epsilon must be a finite number ≥ 0, got ${String(epsilon)}`);
  assertDelta(delta);
  checkPositive('sensitivity', sensitivity);
  // δ(σ) is decreasing in σ; bracket then bisect on log σ.
  let lo = 1e-6 * sensitivity;
  let hi = sensitivity;
  while (analyticGaussianDelta(epsilon, hi, sensitivity) > delta) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12 * sensitivity) throw invalidParameter('no finite sigma reaches the requested (epsilon, delta)');
  }
  if (analyticGaussianDelta(epsilon, lo, sensitivity) <= delta) return lo;
  for (let i = 0; i < 200 && hi / lo > 1 + 1e-13; i++) {
    const mid = Math.sqrt(lo * hi);
    if (analyticGaussianDelta(epsilon, mid, sensitivity) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Exact ε of one Gaussian mechanism with noise multiplier σ (= std / sensitivity) at δ. T adaptive
 * compositions of N(0, σ²) are exactly one Gaussian with multiplier σ/√T (Dong, Roth & Su 2019, GDP).
 */
export function gaussianEpsilon(noiseMultiplier: number, delta: number): number {
  assertDelta(delta);
  if (noiseMultiplier === 0) return Infinity;
  checkPositive('noiseMultiplier', noiseMultiplier);
  if (analyticGaussianDelta(0, noiseMultiplier, 1) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (analyticGaussianDelta(hi, noiseMultiplier, 1) > delta) {
    lo = hi;
    hi *= 2;
    if (hi > 1e8) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (analyticGaussianDelta(mid, noiseMultiplier, 1) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}
