/**
 * Analytic Gaussian mechanism: Balle & Wang, "Improving the Gaussian Mechanism for Differential
 * Privacy: Analytical Calibration and Optimal Denoising" (ICML 2018), Theorem 8: N(0, σ²) added to a
 * query of L2 sensitivity Δ is (ε, δ)-DP iff
 *     δ ≥ Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ).
 * This is exact (not a bound), so it is also the ground truth the PLD accountant must never undercut.
 */
import { DpError, assertDelta, invalidParameter } from './errors.ts';
import { isUnboundedNoise } from './events.ts';
import { erfcx, logNormSf } from './special.ts';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log(Φ̄(x)/φ(x)) for x > 0: Φ̄(x)/φ(x) = √(π/2)·erfcx(x/√2). */
function logMills(x: number): number {
  return 0.5 * Math.log(Math.PI / 2) + Math.log(erfcx(x / Math.SQRT2));
}

function checkPositive(name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw invalidParameter(`${name} must be a positive finite number, got ${String(v)}`);
}

/** Tightest δ at which N(0, σ²) on a sensitivity-Δ query is ε-DP. */
export function analyticGaussianDelta(epsilon: number, sigma: number, sensitivity: number): number {
  if (!(epsilon >= 0)) throw invalidParameter(`epsilon must be ≥ 0, got ${String(epsilon)}`);
  checkPositive('sigma', sigma);
  checkPositive('sensitivity', sensitivity);
  // e^ε·Φ(−∞) is ∞·0 = NaN in floating point; the limit is δ = 0.
  if (epsilon === Infinity) return 0;
  // With a = Δ/(2σ), b = εσ/Δ and r = 2a: Φ(a − b) = Φ̄(t) for t = b − a = (ε − r²/2)/r. Formed this
  // way, not as b − a: both are ~1/σ and their O(1) difference drowned in their rounding for σ ≲ 1e-10
  // (ε came out 1.6e-8 *low* at σ = 1e-154).
  const r = sensitivity / sigma;
  if (!(0.5 * r * r < Infinity)) return 1; // any finite ε is below the loss r²/2 itself
  const t = (epsilon - 0.5 * r * r) / r;
  // e^ε·Φ(−a − b) = e^ε·Φ̄(t + r) = φ(t)·M(t + r), M = Φ̄/φ the Mills ratio: the exponents cancel
  // exactly (ε − (t + r)²/2 = −t²/2), so neither e^ε nor a tiny Φ̄ is ever formed.
  const d = Math.exp(logNormSf(t)) - Math.exp(-0.5 * t * t - LOG_SQRT_2PI + logMills(t + r));
  if (Number.isNaN(d)) throw new DpError('DP_NUMERICAL', `analytic Gaussian delta is NaN at epsilon=${epsilon}, sigma=${sigma}, sensitivity=${sensitivity}`);
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
 * +∞ for σ = 0 or a σ whose loss 1/(2σ²) overflows (isUnboundedNoise); otherwise finite, however large
 * (the search used to stop at ε = 1e8 and call anything above that ∞, e.g. σ = 5e-5).
 */
export function gaussianEpsilon(noiseMultiplier: number, delta: number): number {
  assertDelta(delta);
  if (noiseMultiplier === 0 || (noiseMultiplier > 0 && isUnboundedNoise(noiseMultiplier))) return Infinity;
  checkPositive('noiseMultiplier', noiseMultiplier);
  if (analyticGaussianDelta(0, noiseMultiplier, 1) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (analyticGaussianDelta(hi, noiseMultiplier, 1) > delta) {
    lo = hi;
    hi *= 2;
    if (hi === Infinity) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (analyticGaussianDelta(mid, noiseMultiplier, 1) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}
