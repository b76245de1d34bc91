import { ConclaveError } from '../../protocols/index.ts';
import { giveBackStaging, takeStaging } from '../../protocols/tensor-verifier.ts';
import { divided } from './kernels.ts';
import { PARALLEL_FOLD_MIN, fold, prepareFoldThreads } from './fold-threads.ts';
import type { StreamingSumAggregator, SumAggregation, UpdateReport, Weighting, WeightedSum } from './aggregator.ts';

/**
 * FedAvg's aggregate (McMahan et al. 2017): Σ wᵢ·Δᵢ / Σ wᵢ, with wᵢ the site's example count
 * (`weightedMean`) or 1 (`uniformMean`). A streaming sum: it can be fed updates one by one or a
 * sum a protection protocol unprotected, and the result is the same.
 */
export function weightedMean(): StreamingSumAggregator {
  return new MeanAggregator('examples');
}

export function uniformMean(): StreamingSumAggregator {
  return new MeanAggregator('uniform');
}

class MeanAggregator implements StreamingSumAggregator {
  readonly capability = 'streaming-sum';
  readonly name: string;
  readonly weighting: Weighting;

  constructor(weighting: Weighting) {
    this.weighting = weighting;
    this.name = weighting === 'examples' ? 'weighted-mean' : 'uniform-mean';
  }

  begin(modelSize: number): SumAggregation {
    if (!Number.isSafeInteger(modelSize) || modelSize < 0) throw new ConclaveError('INVALID_ARGUMENT', `model size must be a non-negative integer, got ${modelSize}`);
    return new RunningSum(modelSize, this.weighting);
  }
}

/** The float64 running sum both means (and the DP wrapper, through them) are built on. */
class RunningSum implements SumAggregation {
  private sum: Float64Array | null;
  private readonly weighting: Weighting;
  contributors = 0;
  totalWeight = 0;
  private unclippedCount = 0;

  constructor(modelSize: number, weighting: Weighting) {
    // Shared when large, so helper threads can fold into it (fold-threads.ts), and then last
    // round's buffer, given back by finish(): a fresh one is 8 bytes a parameter of page faults
    // (~4 ms per MiB on the VMs measured: 130 ms a round for 4M parameters, 2 ms to zero a reused
    // one). Zeroed here, when the round opens and sites are still training, so that a fresh
    // buffer's faults are not taken inside the first site's upload (BENCHMARKS.md).
    this.sum = (modelSize >= PARALLEL_FOLD_MIN ? new Float64Array(takeStaging(modelSize * 8)) : new Float64Array(modelSize)).fill(0);
    prepareFoldThreads(modelSize);
    this.weighting = weighting;
  }

  add(delta: Float32Array, numExamples: number, report?: UpdateReport): void {
    const sum = this.open();
    if (delta.length !== sum.length) throw new ConclaveError('LAYOUT_MISMATCH', `update has ${delta.length} values, model has ${sum.length}`);
    let weight = 1;
    if (this.weighting === 'examples') {
      if (!Number.isSafeInteger(numExamples) || numExamples <= 0) {
        throw new ConclaveError('INVALID_ARGUMENT', `numExamples must be a positive integer to weight an update by, got ${numExamples}`);
      }
      weight = numExamples;
    }
    fold(sum, delta, weight);
    this.contributors++;
    this.totalWeight += weight;
    if (report?.unclipped) this.unclippedCount++;
  }

  addSum(partial: Float64Array, contributors: number, totalWeight: number, unclippedCount = 0): void {
    const sum = this.open();
    if (partial.length !== sum.length) throw new ConclaveError('LAYOUT_MISMATCH', `sum has ${partial.length} values, model has ${sum.length}`);
    if (!Number.isSafeInteger(contributors) || contributors < 0) throw new ConclaveError('INVALID_ARGUMENT', `contributors must be a non-negative integer, got ${contributors}`);
    if (!Number.isSafeInteger(unclippedCount) || unclippedCount < 0 || unclippedCount > contributors) {
      throw new ConclaveError('INVALID_ARGUMENT', `unclippedCount must be an integer in [0, ${contributors}], got ${unclippedCount}`);
    }
    // Uniform weights are 1 per site, so the total is the count whatever the protocol claims.
    if (this.weighting === 'uniform' ? totalWeight !== contributors : !(totalWeight >= contributors && Number.isSafeInteger(totalWeight))) {
      throw new ConclaveError('INVALID_ARGUMENT', `totalWeight ${totalWeight} is not a valid ${this.weighting} weight for ${contributors} contributors`);
    }
    fold(sum, partial, 1);
    this.contributors += contributors;
    this.totalWeight += totalWeight;
    this.unclippedCount += unclippedCount;
  }

  finishSum(): WeightedSum {
    const sum = this.open();
    this.sum = null;
    return { sum, contributors: this.contributors, totalWeight: this.totalWeight, unclippedCount: this.unclippedCount };
  }

  finish() {
    if (this.contributors === 0) throw new ConclaveError('FEDERATION_STATE', 'cannot aggregate a round without updates');
    const { sum, contributors, totalWeight } = this.finishSum();
    const delta = divided(sum, totalWeight);
    recycleShared(sum);
    return { delta, measurements: { contributors, totalWeight } };
  }

  private open(): Float64Array {
    if (!this.sum) throw new ConclaveError('FEDERATION_STATE', 'this round\'s aggregation has already finished');
    return this.sum;
  }
}

/**
 * Gives a round's pooled buffer (a sum from finishSum(), a DP clip scratch), read for the last time,
 * back for a later round of the same size; an unshared or partial view is left to the collector.
 * Whoever holds it calls this at most once.
 */
export function recycleShared(view: Float32Array | Float64Array): void {
  if (view.buffer instanceof SharedArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) giveBackStaging(view.buffer);
}
