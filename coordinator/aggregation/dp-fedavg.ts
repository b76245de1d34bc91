import { ConclaveError } from '../../protocols/index.ts';
import { addGaussianNoise, clipToNorm } from '../../crypto/dp/index.ts';
import type { AggregationStrategy, RoundAccumulator } from './strategy.ts';

export interface DpFedAvgOptions {
  clipNorm: number;
  /** Σ qᵢ over the eligible population: the fixed denominator of DP-FedAvg. */
  expectedSites: number;
  /** Std of the noise the coordinator adds to the sum (central mode); 0 when sites add it (distributed). */
  centralNoiseStd: number;
  /**
   * Central mode sees each clipped update, so it re-clips: a site that skipped clipping must not
   * exceed the sensitivity the accountant assumed. Distributed updates already carry noise and
   * cannot be checked this way.
   */
  enforceClip: boolean;
  serverLearningRate?: number;
}

/**
 * DP-FedAvg (McMahan, Ramage, Talwar & Zhang, ICLR 2018): uniform weights, the sum of clipped
 * deltas plus Gaussian noise, divided by the *expected* number of sites. Dividing by the actual
 * count would make the output's scale depend on who was sampled, which the analysis does not cover;
 * weighting by example counts would let one site's weight exceed the sensitivity bound.
 */
export class DpFedAvg implements AggregationStrategy {
  readonly name = 'dp-fedavg';
  readonly options: DpFedAvgOptions;

  constructor(options: DpFedAvgOptions) {
    if (!(options.expectedSites > 0)) throw new ConclaveError('INVALID_ARGUMENT', 'expectedSites must be positive');
    this.options = options;
  }

  begin(base: Float32Array): RoundAccumulator {
    return new NoisedSum(base, this.options);
  }
}

class NoisedSum implements RoundAccumulator {
  private readonly base: Float32Array;
  private readonly sum: Float64Array;
  private readonly options: DpFedAvgOptions;
  updates = 0;
  totalExamples = 0;

  constructor(base: Float32Array, options: DpFedAvgOptions) {
    this.base = base;
    this.sum = new Float64Array(base.length);
    this.options = options;
  }

  add(delta: Float32Array, numExamples: number): void {
    if (delta.length !== this.sum.length) throw new ConclaveError('LAYOUT_MISMATCH', `update has ${delta.length} values, model has ${this.sum.length}`);
    if (this.options.enforceClip) clipToNorm(delta, this.options.clipNorm);
    for (let i = 0; i < delta.length; i++) this.sum[i]! += delta[i]!;
    this.updates++;
    this.totalExamples += numExamples;
  }

  /** With no update the sum is 0 and the release is the noise alone: still a release, still charged. */
  finalize(): Float32Array {
    const noised = new Float32Array(this.sum.length);
    for (let i = 0; i < noised.length; i++) noised[i] = this.sum[i]!;
    if (this.options.centralNoiseStd > 0) addGaussianNoise(noised, this.options.centralNoiseStd);
    const scale = (this.options.serverLearningRate ?? 1) / this.options.expectedSites;
    const next = new Float32Array(this.base.length);
    for (let i = 0; i < next.length; i++) next[i] = this.base[i]! + scale * noised[i]!;
    return next;
  }
}
