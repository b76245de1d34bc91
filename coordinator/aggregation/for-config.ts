/**
 * The aggregation and server optimizer a federation's configuration asks for, composed: the inner
 * mean, wrapped by DP when the federation has it (central: the coordinator clips and noises;
 * local/distributed: the sites did, and the sum is only divided by the expected number of sites),
 * or a robust aggregator, which the schema only admits for unprotected rounds without DP.
 */
import type { FederationConfig } from '../federation-config.ts';
import type { RoundPrivacy } from '../round-privacy.ts';
import type { Aggregator } from './aggregator.ts';
import { differentialPrivacy } from './dp.ts';
import { krum } from './krum.ts';
import { uniformMean, weightedMean } from './mean.ts';
import { coordinateMedian } from './median.ts';
import { adaptive, fedAvgM, sgd, type ServerOptimizer } from './server-optimizers.ts';
import { trimmedMean } from './trimmed-mean.ts';

export function aggregationFor(config: FederationConfig, privacy: RoundPrivacy | null): Aggregator {
  const a = config.aggregation;
  // The schema refuses robust aggregators with DP or a sum-only protection (aggregationConflict);
  // a round can hold at most sitesPerRound updates, which bounds what they buffer.
  const maxUpdates = config.sitesPerRound;
  switch (a.kind) {
    case 'median': return coordinateMedian({ maxUpdates });
    case 'trimmed-mean': return trimmedMean({ maxUpdates, trimRatio: a.trimRatio });
    case 'krum': return krum({ maxUpdates, byzantine: a.byzantine, select: a.select });
    case 'fedavg': break;
  }
  if (!privacy) return a.weighting === 'uniform' ? uniformMean() : weightedMean();
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
    case 'fedavgm':
      return fedAvgM(optimizer);
    case 'fedadam':
    case 'fedyogi':
      return adaptive(optimizer.kind, optimizer);
    case 'fedadagrad':
      return adaptive('fedadagrad', { ...optimizer, beta2: 0 });
  }
}
