import { ConclaveError } from '../../protocols/index.ts';
import { clipToNorm, gaussianSamples } from '../../crypto/dp/index.ts';
import { axpy, scaled } from './kernels.ts';
import { PARALLEL_FOLD_MIN } from './fold-threads.ts';
import { recycleShared } from './mean.ts';
import { takeStaging } from '../../protocols/tensor-verifier.ts';
import type { StreamingSumAggregator, SumAggregation, UpdateReport, WeightedSum } from './aggregator.ts';

/**
 * DP-FedAvg's aggregate (McMahan, Ramage, Talwar & Zhang, ICLR 2018) as a wrapper around an inner
 * streaming-sum aggregator, after TFF's DifferentiallyPrivateFactory: clip each record, let the
 * inner aggregator sum them with uniform weights, add N(0, (σC)²) to the sum, divide by the fixed
 * public expected number of sites E.
 *
 * - The denominator is E, never the actual count: dividing by who turned up would make the
 *   output's scale depend on the sample, which the analysis does not cover.
 * - Weights are uniform: weighting by declared example counts would let one site exceed the
 *   sensitivity bound C. The inner aggregator must say so (`weighting: 'uniform'`).
 * - With no contribution the release is the noise alone ÷ E: still a release, still charged, and
 *   skipping it would tell the world the sample was empty.
 *
 * It reports what it saw (contributors, the adaptive-clipping count) and does not compute ε: the
 * round's DP event and ledger entry come from the round's privacy plan, fixed before the round ran.
 */
export interface DpAggregationOptions {
  clipNorm: number;
  /** Σ qᵢ over the eligible population: the fixed denominator. */
  expectedSites: number;
  /** Std of the noise the coordinator adds to the sum (central mode, σC); 0 when the sites noised their updates. */
  noiseStd: number;
  /**
   * Re-clip each update the coordinator sees. Central updates arrive un-noised, so a site that
   * skipped clipping must not exceed the sensitivity the accountant assumed; updates that already
   * carry noise (distributed) cannot be checked this way, and a sum from a protocol cannot be either.
   */
  clipUpdates: boolean;
}

export function differentialPrivacy(inner: StreamingSumAggregator, options: DpAggregationOptions): StreamingSumAggregator {
  return new DpAggregator(inner, options);
}

class DpAggregator implements StreamingSumAggregator {
  readonly capability = 'streaming-sum';
  readonly weighting = 'uniform';
  readonly name: string;
  private readonly inner: StreamingSumAggregator;
  private readonly options: DpAggregationOptions;

  constructor(inner: StreamingSumAggregator, options: DpAggregationOptions) {
    if (inner.weighting !== 'uniform') {
      throw new ConclaveError('INVALID_ARGUMENT', `DP needs uniform weights (one site's example count would break the sensitivity bound); "${inner.name}" weights by ${inner.weighting}`);
    }
    if (!(options.clipNorm > 0) || !Number.isFinite(options.clipNorm)) throw new ConclaveError('INVALID_ARGUMENT', `clipNorm must be positive and finite, got ${options.clipNorm}`);
    if (!(options.expectedSites > 0) || !Number.isFinite(options.expectedSites)) throw new ConclaveError('INVALID_ARGUMENT', `expectedSites must be positive and finite, got ${options.expectedSites}`);
    if (!(options.noiseStd >= 0) || !Number.isFinite(options.noiseStd)) throw new ConclaveError('INVALID_ARGUMENT', `noiseStd must be non-negative and finite, got ${options.noiseStd}`);
    this.inner = inner;
    this.options = { ...options };
    this.name = `dp(${inner.name})`;
  }

  begin(modelSize: number): SumAggregation {
    return new DpRound(this.inner.begin(modelSize), this.options, modelSize);
  }
}

/** Noise is drawn in batches so the release needs no second model-sized float64 buffer. */
const NOISE_BATCH = 1 << 16;

class DpRound implements SumAggregation {
  private readonly inner: SumAggregation;
  private readonly options: DpAggregationOptions;
  /** One scratch buffer per round: clipping never touches the caller's array. Null once finished. */
  private scratch: Float32Array | null;

  constructor(inner: SumAggregation, options: DpAggregationOptions, modelSize: number) {
    this.inner = inner;
    this.options = options;
    const size = options.clipUpdates ? modelSize : 0;
    // Shared when large, so the inner sum's fold can split it across threads (fold-threads.ts);
    // pooled and touched now, as the running sum is (mean.ts), so that neither a fresh buffer's
    // page faults nor its allocation land in the first update's accept.
    this.scratch = size >= PARALLEL_FOLD_MIN ? new Float32Array(takeStaging(size * 4)).fill(0) : new Float32Array(size);
  }

  get contributors(): number {
    return this.inner.contributors;
  }

  get totalWeight(): number {
    return this.inner.totalWeight;
  }

  add(delta: Float32Array, numExamples: number, report?: UpdateReport): void {
    if (!this.options.clipUpdates) return this.inner.add(delta, numExamples, report);
    const scratch = this.scratch;
    if (!scratch) throw new ConclaveError('FEDERATION_STATE', 'this round\'s aggregation has already finished');
    if (delta.length !== scratch.length) throw new ConclaveError('LAYOUT_MISMATCH', `update has ${delta.length} values, model has ${scratch.length}`);
    scratch.set(delta);
    clipToNorm(scratch, this.options.clipNorm);
    this.inner.add(scratch, numExamples, report);
  }

  addSum(sum: Float64Array, contributors: number, totalWeight: number, unclippedCount?: number): void {
    this.inner.addSum(sum, contributors, totalWeight, unclippedCount);
  }

  /** The noised sum, still undivided: for a wrapper around this one. */
  finishSum(): WeightedSum {
    const result = this.inner.finishSum();
    if (this.scratch) recycleShared(this.scratch);
    this.scratch = null;
    const { sum } = result;
    const std = this.options.noiseStd;
    if (std > 0) {
      for (let start = 0; start < sum.length; start += NOISE_BATCH) {
        const noise = gaussianSamples(Math.min(NOISE_BATCH, sum.length - start), std);
        axpy(sum.subarray(start, start + noise.length), noise, 1);
      }
    }
    return result;
  }

  finish() {
    const { sum, contributors, unclippedCount } = this.finishSum();
    const delta = scaled(sum, 1 / this.options.expectedSites);
    recycleShared(sum);
    return { delta, measurements: { contributors, unclippedCount } };
  }
}
