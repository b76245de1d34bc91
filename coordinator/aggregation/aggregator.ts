/**
 * Aggregators compose, as TFF's aggregation factories do (tff.aggregators: an aggregator is built
 * per round with its own state and reports measurements; DP wraps an inner aggregator). An
 * aggregator turns the updates of ONE round into the aggregate DELTA; it never sees or produces
 * the model. Applying the delta to the model is the server optimizer's job (server-optimizers.ts),
 * which is why `begin` takes the model's size, not the model.
 *
 * Memory: a streaming-sum aggregation keeps O(model) state, never a list of updates (STYLE: stream,
 * don't buffer, anything that grows with model size × participants). The robust (`individual`)
 * aggregators are the one exception: they need each update, and buffer at most sitesPerRound of
 * them (individual.ts). Sums are float64: with
 * hundreds of sites a float32 running sum loses the low bits of small deltas, which is exactly
 * where late-round progress lives.
 */

/**
 * What an aggregator needs to see.
 * - `streaming-sum`: it folds updates one at a time, and everything it computes is a function of
 *   their weighted SUM. So it can equally be handed a sum that a protected-domain protocol (secure
 *   aggregation, CKKS) unprotected, without ever seeing one update.
 * - `individual`: it needs each update on its own (robust aggregators: median, trimmed mean,
 *   Krum). Such an aggregator cannot run under a protocol that only ever yields sums.
 */
export type AggregatorCapability = 'streaming-sum' | 'individual';

/**
 * How a streaming-sum aggregator weights a site: by its declared example count (FedAvg), or
 * uniformly (every site 1; required under DP, where one site's weight must not exceed the
 * sensitivity bound).
 */
export type Weighting = 'examples' | 'uniform';

/** What the site reported alongside its update (the adaptive-clipping bit, under central DP). */
export interface UpdateReport {
  unclipped?: boolean;
}

export interface AggregateResult {
  /** The aggregate delta, to be applied to the round's base model by the server optimizer. */
  delta: Float32Array;
  /**
   * Numbers the aggregation observed. For the coordinator's own use: under DP some of them (the
   * number of contributors, the clipped count) are exactly what Poisson sampling hides, so the
   * caller decides what, if anything, is published.
   */
  measurements: Record<string, number>;
}

/** One round of aggregation: created by `begin`, fed, then finished exactly once. */
export interface RoundAggregation {
  /**
   * Folds one unprotected update (the site's new local weights − the round's base) with the
   * site's declared example count. The aggregator applies its own weighting to that count; the
   * caller's array is not modified and not retained.
   */
  add(delta: Float32Array, numExamples: number, report?: UpdateReport): void;
  /** Updates (or sum contributions) folded so far. */
  readonly contributors: number;
  /**
   * Σ of the weights this aggregator applied (Σ nᵢ for examples, the contributor count for uniform);
   * an `individual` aggregator weights nothing and reports the declared Σ nᵢ, for the metrics.
   */
  readonly totalWeight: number;
  finish(): AggregateResult;
}

/** The weighted sum a streaming-sum aggregation holds, before it is normalised. */
export interface WeightedSum {
  /** Σ wᵢ·Δᵢ in float64. Owned by the caller once returned. */
  sum: Float64Array;
  contributors: number;
  totalWeight: number;
  /** Σ of the sites' "not clipped" bits, as reported or as unprotected along with the sum. */
  unclippedCount: number;
}

export interface SumAggregation extends RoundAggregation {
  /**
   * Folds a sum a protection protocol unprotected: Σ wᵢ·Δᵢ over `contributors` sites, where wᵢ is
   * this aggregator's weight for site i (see `StreamingSumAggregator.weighting`, which is what a
   * protocol's sites multiply by before masking), `totalWeight` = Σ wᵢ, and `unclippedCount` the
   * sum of the sites' adaptive-clipping bits when the protocol carries them.
   */
  addSum(sum: Float64Array, contributors: number, totalWeight: number, unclippedCount?: number): void;
  /**
   * Ends the round with the raw weighted sum instead of a normalised delta: what a wrapper (DP)
   * post-processes. Either this or `finish`, once.
   */
  finishSum(): WeightedSum;
}

export interface StreamingSumAggregator {
  readonly name: string;
  readonly capability: 'streaming-sum';
  readonly weighting: Weighting;
  begin(modelSize: number): SumAggregation;
}

export interface IndividualAggregator {
  readonly name: string;
  readonly capability: 'individual';
  begin(modelSize: number): RoundAggregation;
}

export type Aggregator = StreamingSumAggregator | IndividualAggregator;

/** What a protection protocol hands the aggregation stage. */
export type ProtectionOutput = 'individual-updates' | 'sum';

/**
 * Whether an aggregator can run under a protection protocol and, with DP, under the DP wrapper.
 * Returns what is wrong (a sentence for the operator) or null. The config schema calls it, and so
 * must every protocol module that is added later: a protocol that yields only a sum (secure
 * aggregation, CKKS) cannot feed an aggregator that needs each update, and the DP wrapper needs an
 * inner aggregator that is a function of the sum (clip each record, sum, noise the sum).
 */
export function aggregationConflict(capability: AggregatorCapability, protection: { kind: string; output: ProtectionOutput }, dp: boolean): string | null {
  if (capability === 'individual' && protection.output === 'sum') {
    return `the aggregator needs each update on its own, but protection "${protection.kind}" only ever yields their sum; use a streaming-sum aggregator (fedavg) or protection "none"`;
  }
  if (capability === 'individual' && dp) {
    return 'differential privacy wraps an aggregator that is a function of the sum of clipped updates; an aggregator that needs each update cannot run under it';
  }
  return null;
}
