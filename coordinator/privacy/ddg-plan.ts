/**
 * The distributed discrete Gaussian (crypto/dp/ddg.ts) as a round of secure aggregation runs it:
 * the public parameters every site of the round encodes with, and the DP event the ledger charges.
 *
 * What is charged, and why it is an upper bound fixed before anything is released:
 *  - `clients` is the fewest survivors with which the round can commit: max(t, quorum), the bound
 *    the secagg module enforces at every stage (survivorsOrAbort). Fewer survivors mean less noise in
 *    the sum, so charging the floor covers every round that commits; one below it aborts unmasked.
 *  - Adjacency is the paper's (Kairouz, Liu & Steinke 2021, §4): one site's update replaced by zero
 *    while that site still adds its share of the noise ('zero-out'), with Δ₂ the L2 bound after
 *    conditional rounding, in the scaled integer units. This is what google-research/federated's
 *    distributed_dp accountant computes, so the ε matches it on the same parameters.
 *  - sampleRate 1: the coordinator knows who was selected, so sampling amplifies nothing.
 *  - Rotation (randomized Hadamard) is off: it flattens the coordinates so that a coarse grid in a
 *    small ring does not wrap, but with 32 bits and γ chosen for no wrap (chooseGranularity) the sum
 *    fits without it, and rotating pads the vector to a power of two (up to 2× the bytes masked).
 */
import { chooseGranularity, encodedLength, type DistributedDiscreteEvent } from '../../crypto/dp/ddg.ts';
import { secAggParametersFor, type SecAggConfig } from '../protection/secagg-config.ts';

/** β of the paper's experiments: each rounding draw is kept with probability ≥ 1 − e^{-1/2}. */
export const DEFAULT_DDG_BETA = Math.exp(-0.5);

/** A round's DDG parameters: sent to every site in its DP plan, and what its ledger entry charges. */
export interface DdgRoundPlan {
  /** γ, update units. */
  granularity: number;
  beta: number;
  /** The sites planned into the sum (sizes the no-wrap bound). */
  maxSites: number;
  /** The integer vector's length (the update's; no rotation). */
  dim: number;
  /** Survivors the charge assumes at least: a round with fewer aborts before unmasking. */
  chargedClients: number;
}

/** The fewest survivors a secagg round of `sites` sites can commit with: max(t, quorum). */
export function minimumSurvivors(protection: Pick<SecAggConfig, 'maxDropout' | 'colluders' | 'neighbours' | 'threshold'>, sites: number, minSites: number): number {
  return Math.max(secAggParametersFor(protection, sites).t, minSites);
}

/** The grid and its length for `sites` sites in one sum (no t: admission sizes rounds not yet drawn). */
export function ddgGrid(p: { clipNorm: number; siteNoiseStd: number; sites: number; updateLength: number }): Omit<DdgRoundPlan, 'chargedClients'> {
  const dim = encodedLength(p.updateLength, false);
  const beta = DEFAULT_DDG_BETA;
  const granularity = chooseGranularity({ clip: p.clipNorm, localStddev: p.siteNoiseStd, beta, dim, sites: p.sites });
  return { granularity, beta, maxSites: p.sites, dim };
}

export function planDdgRound(p: {
  clipNorm: number; siteNoiseStd: number; sites: number; updateLength: number; minSites: number;
  protection: Pick<SecAggConfig, 'maxDropout' | 'colluders' | 'neighbours' | 'threshold'>;
}): DdgRoundPlan {
  return { ...ddgGrid(p), chargedClients: Math.min(p.sites, minimumSurvivors(p.protection, p.sites, p.minSites)) };
}

/** The accountant's view of one round (crypto/dp/ddg.ts). */
export function ddgAccountingEvent(plan: DdgRoundPlan, clipNorm: number, siteNoiseStd: number): DistributedDiscreteEvent {
  return {
    mechanism: 'ddg', clip: clipNorm, localStddev: siteNoiseStd, clients: plan.chargedClients, dim: plan.dim,
    granularity: plan.granularity, beta: plan.beta, sampleRate: 1, count: 1,
  };
}
