/**
 * Distributed Gaussian noise: each of the `expectedSites` sites adds N(0, (σC)²/expected) to its clipped
 * update before secure aggregation, so the sum carries N(0, (σC)²) when everyone survives (variances
 * add). If only `survivingSites` contribute, the sum carries variance (σC)²·survivors/expected, i.e. the
 * true noise multiplier is σ·√(survivors/expected) < σ. The ledger records that true value
 * (cf. Kairouz, Liu & Steinke, "The Distributed Discrete Gaussian Mechanism", ICML 2021, on dropouts).
 */
import { invalidParameter } from './errors.ts';

/** With Poisson sampling the expected number of sites Σ qᵢ need not be an integer. */
function positiveReal(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw invalidParameter(`${name} must be a positive number, got ${String(v)}`);
}

export function siteNoiseStd(p: { noiseMultiplier: number; clipNorm: number; expectedSites: number }): number {
  if (!(p.noiseMultiplier >= 0) || !Number.isFinite(p.noiseMultiplier)) throw invalidParameter(`noiseMultiplier must be ≥ 0, got ${String(p.noiseMultiplier)}`);
  if (!(p.clipNorm > 0) || !Number.isFinite(p.clipNorm)) throw invalidParameter(`clipNorm must be > 0, got ${String(p.clipNorm)}`);
  positiveReal('expectedSites', p.expectedSites);
  return (p.noiseMultiplier * p.clipNorm) / Math.sqrt(p.expectedSites);
}

export function effectiveNoiseMultiplier(p: { noiseMultiplier: number; expectedSites: number; survivingSites: number }): number {
  if (!(p.noiseMultiplier >= 0) || !Number.isFinite(p.noiseMultiplier)) throw invalidParameter(`noiseMultiplier must be ≥ 0, got ${String(p.noiseMultiplier)}`);
  positiveReal('expectedSites', p.expectedSites);
  if (!Number.isSafeInteger(p.survivingSites) || p.survivingSites < 0) {
    throw invalidParameter(`survivingSites must be a non-negative integer, got ${String(p.survivingSites)}`);
  }
  return p.noiseMultiplier * Math.sqrt(p.survivingSites / p.expectedSites);
}
