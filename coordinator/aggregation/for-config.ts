/**
 * The aggregation and server optimizer a federation's configuration asks for, composed: the inner
 * mean, wrapped by DP when the federation has it (central: the coordinator clips and noises;
 * local/distributed: the sites did, and the sum is only divided by the expected number of sites).
 */
import type { FederationConfig } from '../federation-config.ts';
import type { RoundPrivacy } from '../round-privacy.ts';
import type { StreamingSumAggregator } from './aggregator.ts';
import { differentialPrivacy } from './dp.ts';
import { uniformMean, weightedMean } from './mean.ts';
import { sgd, type ServerOptimizer } from './server-optimizers.ts';

export function aggregationFor(config: FederationConfig, privacy: RoundPrivacy | null): StreamingSumAggregator {
  if (!privacy) return config.aggregation.weighting === 'uniform' ? uniformMean() : weightedMean();
  const central = privacy.mode === 'central';
  return differentialPrivacy(uniformMean(), {
    clipNorm: privacy.clipNorm, expectedSites: privacy.expectedSites,
    // Only central updates arrive without noise, so only they can be re-clipped and need the coordinator's noise.
    noiseStd: central ? privacy.configuredNoiseMultiplier * privacy.clipNorm : 0, clipUpdates: central,
  });
}

export function serverOptimizerFor(config: FederationConfig): ServerOptimizer {
  const optimizer = config.aggregation.serverOptimizer;
  switch (optimizer.kind) {
    case 'sgd':
      return sgd({ learningRate: optimizer.learningRate });
  }
}
