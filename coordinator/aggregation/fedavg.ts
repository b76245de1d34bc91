import { ConclaveError } from '../../protocols/index.ts';
import type { AggregationStrategy, RoundAccumulator } from './strategy.ts';

/**
 * Weighted FedAvg (McMahan et al. 2017) over deltas: w ← w + η · Σ nᵢ·Δᵢ / Σ nᵢ.
 * The sum is kept in float64: with hundreds of sites a float32 running sum loses the low bits of
 * small deltas, which is exactly where late-round progress lives.
 */
export class FedAvg implements AggregationStrategy {
  readonly name = 'fedavg';
  readonly serverLearningRate: number;

  constructor(options: { serverLearningRate?: number } = {}) {
    this.serverLearningRate = options.serverLearningRate ?? 1;
  }

  begin(base: Float32Array): RoundAccumulator {
    return new WeightedSum(base, this.serverLearningRate);
  }
}

class WeightedSum implements RoundAccumulator {
  private readonly base: Float32Array;
  private readonly sum: Float64Array;
  private readonly serverLearningRate: number;
  updates = 0;
  totalExamples = 0;

  constructor(base: Float32Array, serverLearningRate: number) {
    this.base = base;
    this.sum = new Float64Array(base.length);
    this.serverLearningRate = serverLearningRate;
  }

  add(delta: Float32Array, numExamples: number): void {
    if (delta.length !== this.sum.length) {
      throw new ConclaveError('LAYOUT_MISMATCH', `update has ${delta.length} values, model has ${this.sum.length}`);
    }
    if (!Number.isInteger(numExamples) || numExamples <= 0) {
      throw new ConclaveError('INVALID_ARGUMENT', 'numExamples must be a positive integer');
    }
    const sum = this.sum;
    for (let i = 0; i < sum.length; i++) sum[i]! += numExamples * delta[i]!;
    this.updates++;
    this.totalExamples += numExamples;
  }

  finalize(): Float32Array {
    if (this.updates === 0) throw new ConclaveError('FEDERATION_STATE', 'cannot aggregate a round without updates');
    const next = new Float32Array(this.base.length);
    const scale = this.serverLearningRate / this.totalExamples;
    for (let i = 0; i < next.length; i++) next[i] = this.base[i]! + scale * this.sum[i]!;
    return next;
  }
}
