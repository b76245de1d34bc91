/**
 * Adaptive clipping: Andrew, Thakkar, McMahan & Ramaswamy, "Differentially Private Learning with
 * Adaptive Clipping" (NeurIPS 2021). The clip norm C tracks the γ-quantile of site update norms by
 * online gradient descent on the pinball loss, in geometric form (their Eq. for the geometric update):
 *     C ← C · exp(−η (b̄ − γ)),
 * where b̄ is the noised fraction of sites whose update norm was ≤ C. Geometric steps converge fast when
 * the norm scale is unknown and keep C > 0.
 */
import { invalidParameter } from './errors.ts';
import { gaussianSamples } from './noise.ts';

/** The bit each site reports: 1 when its update was not clipped (‖Δ‖ ≤ C). */
export function clippedIndicator(norm: number, clipNorm: number): 0 | 1 {
  if (Number.isNaN(norm) || norm < 0) throw invalidParameter(`norm must be ≥ 0, got ${String(norm)}`);
  return norm <= clipNorm ? 1 : 0;
}

/** b̄ = (Σ b_i + N(0, σ_b²)) / expectedSites: the count is released with Gaussian noise of std σ_b. */
export function noisedUnclippedFraction(unclippedCount: number, expectedSites: number, sigmaCount: number): number {
  if (!(expectedSites > 0)) throw invalidParameter(`expectedSites must be > 0, got ${String(expectedSites)}`);
  if (!(unclippedCount >= 0)) throw invalidParameter(`unclippedCount must be ≥ 0, got ${String(unclippedCount)}`);
  const noise = sigmaCount > 0 ? gaussianSamples(1, sigmaCount)[0]! : 0;
  return (unclippedCount + noise) / expectedSites;
}

export interface ClipUpdate {
  clipNorm: number;
  noisedUnclippedFraction: number;
  targetQuantile: number;
  learningRate: number;
}

/** One geometric step C ← C·exp(−η(b̄ − γ)). */
export function updateClipNorm(u: ClipUpdate): number {
  const { clipNorm, noisedUnclippedFraction: b, targetQuantile: g, learningRate: eta } = u;
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw invalidParameter(`clipNorm must be positive, got ${String(clipNorm)}`);
  if (!Number.isFinite(b)) throw invalidParameter(`noisedUnclippedFraction must be finite, got ${String(b)}`);
  if (!(g >= 0 && g <= 1)) throw invalidParameter(`targetQuantile must be in [0, 1], got ${String(g)}`);
  if (!(eta >= 0) || !Number.isFinite(eta)) throw invalidParameter(`learningRate must be ≥ 0, got ${String(eta)}`);
  return clipNorm * Math.exp(-eta * (b - g));
}

/**
 * Noise multiplier of the *combined* release (noised update sum with multiplier σ, noised unclipped
 * count with std σ_b): Andrew et al. 2021, Theorem 1. Bits are centred to ±½, so the count query has
 * sensitivity ½ and multiplier 2σ_b; two Gaussian queries compose like one with
 *     σ_eff = (σ⁻² + (2σ_b)⁻²)^(−1/2).
 * The ledger must account σ_eff, not σ. σ_b = ∞ (no count released) gives σ; σ_b = 0 would be a
 * noiseless count (no finite ε) and is rejected, not read as "no count".
 */
export function effectiveNoiseMultiplier(sigmaUpdate: number, sigmaCount: number): number {
  if (!(sigmaUpdate > 0)) throw invalidParameter(`sigmaUpdate must be > 0, got ${String(sigmaUpdate)}`);
  if (!(sigmaCount > 0)) throw invalidParameter(`sigmaCount must be > 0, got ${String(sigmaCount)}`);
  if (sigmaCount === Infinity) return sigmaUpdate;
  return (sigmaUpdate ** -2 + (2 * sigmaCount) ** -2) ** -0.5;
}

/** Inverse of the above: the update noise multiplier needed for a target σ_eff (their Eq. in Sec. 3). */
export function updateNoiseMultiplierFor(targetEffective: number, sigmaCount: number): number {
  if (!(targetEffective > 0)) throw invalidParameter(`targetEffective must be > 0, got ${String(targetEffective)}`);
  if (!(sigmaCount > 0)) throw invalidParameter(`sigmaCount must be > 0, got ${String(sigmaCount)}`);
  const r = targetEffective ** -2 - (2 * sigmaCount) ** -2;
  if (!(r > 0)) throw invalidParameter(`sigmaCount ${sigmaCount} alone already costs more than noise multiplier ${targetEffective}`);
  return r ** -0.5;
}
