import { ConclaveError } from '../../protocols/index.ts';
import type { AggregateResult, IndividualAggregator, RoundAggregation } from './aggregator.ts';

/**
 * The round state every `individual` aggregator shares: a copy of each update, kept until the
 * round finishes, because a robust statistic (median, trimmed mean, Krum) is not a function of the
 * sum. This is the one place the aggregation buffers updates, and it is bounded: at most
 * `maxUpdates` (the federation's sitesPerRound, since a round only accepts updates from the sites
 * it selected) × model size float32 values, e.g. 100 sites × 100k parameters = 40 MB. A site's
 * declared example count is not used: a robust aggregator must not let one site buy weight by
 * claiming a large dataset.
 */
export function bufferedAggregator(name: string, maxUpdates: number, combine: (updates: Float32Array[], modelSize: number) => AggregateResult): IndividualAggregator {
  if (!Number.isSafeInteger(maxUpdates) || maxUpdates < 1) throw new ConclaveError('INVALID_ARGUMENT', `maxUpdates must be a positive integer, got ${maxUpdates}`);
  return {
    name,
    capability: 'individual',
    begin(modelSize) {
      if (!Number.isSafeInteger(modelSize) || modelSize < 0) throw new ConclaveError('INVALID_ARGUMENT', `model size must be a non-negative integer, got ${modelSize}`);
      return new BufferedRound(name, modelSize, maxUpdates, combine);
    },
  };
}

class BufferedRound implements RoundAggregation {
  private updates: Float32Array[] | null = [];
  private readonly name: string;
  private readonly modelSize: number;
  private readonly maxUpdates: number;
  private readonly combine: (updates: Float32Array[], modelSize: number) => AggregateResult;

  constructor(name: string, modelSize: number, maxUpdates: number, combine: (updates: Float32Array[], modelSize: number) => AggregateResult) {
    this.name = name;
    this.modelSize = modelSize;
    this.maxUpdates = maxUpdates;
    this.combine = combine;
  }

  get contributors(): number {
    return this.updates?.length ?? 0;
  }

  /** The declared example counts, summed for the version's metrics; nothing is weighted by them. */
  totalWeight = 0;

  add(delta: Float32Array, numExamples: number): void {
    const updates = this.open();
    if (delta.length !== this.modelSize) throw new ConclaveError('LAYOUT_MISMATCH', `update has ${delta.length} values, model has ${this.modelSize}`);
    if (updates.length >= this.maxUpdates) throw new ConclaveError('FEDERATION_STATE', `${this.name} already holds ${this.maxUpdates} updates, the most a round can have`);
    updates.push(delta.slice());
    this.totalWeight += numExamples;
  }

  finish(): AggregateResult {
    const updates = this.open();
    if (updates.length === 0) throw new ConclaveError('FEDERATION_STATE', 'cannot aggregate a round without updates');
    this.updates = null;
    return this.combine(updates, this.modelSize);
  }

  private open(): Float32Array[] {
    if (!this.updates) throw new ConclaveError('FEDERATION_STATE', 'this round\'s aggregation has already finished');
    return this.updates;
  }
}

/** Calls `f` with each coordinate's values across the updates, sorted ascending (one reused buffer). */
export function forEachSortedColumn(updates: Float32Array[], modelSize: number, f: (column: Float64Array, i: number) => number): Float32Array {
  const column = new Float64Array(updates.length);
  const out = new Float32Array(modelSize);
  for (let i = 0; i < modelSize; i++) {
    for (let k = 0; k < updates.length; k++) column[k] = updates[k]![i]!;
    column.sort();
    out[i] = f(column, i);
  }
  return out;
}
