import { loadMnist, trainTestSplit } from './mnist.ts';
import { partitionDirichlet, partitionIid } from './partition.ts';
import type { Dataset } from './dataset.ts';

export type PartitionKind = 'iid' | 'dirichlet';

export interface SimulatedSplit {
  dataset: 'mnist';
  partition: PartitionKind;
  sites: number;
  alpha: number;
  seed: number;
}

/**
 * Every process of a simulation derives the same split from the same seed, so a site loads only
 * its own shard and the held-out test set never reaches a site.
 */
export function simulatedSiteData(split: SimulatedSplit, siteIndex: number): Dataset {
  return simulatedSiteShards(split, [siteIndex]).get(siteIndex)!;
}

/**
 * The shards of several sites, computed once: a process hosting many sites loads MNIST, splits and
 * partitions it once, and keeps only its own sites' shards (together at most the training split).
 */
export function simulatedSiteShards(split: SimulatedSplit, siteIndices: readonly number[]): Map<number, Dataset> {
  for (const i of siteIndices) {
    if (!Number.isInteger(i) || i < 0 || i >= split.sites) throw new RangeError(`site index must be an integer in [0, ${split.sites - 1}], got ${i}`);
  }
  const { train } = trainTestSplit(loadMnist(), { testFraction: 0.2, seed: split.seed });
  const shards = split.partition === 'iid'
    ? partitionIid(train, split.sites, split.seed)
    : partitionDirichlet(train, split.sites, split.alpha, split.seed);
  return new Map(siteIndices.map((i) => [i, shards[i]!]));
}

/**
 * Each site's held-out split for federated evaluation: the simulation's test split, dealt out to
 * the sites IID. No site trains on it, and the example-weighted mean over all sites' shards is the
 * model's accuracy on the whole test split, which the simulation also measures centrally.
 */
export function simulatedSiteEvalShards(split: SimulatedSplit, siteIndices: readonly number[]): Map<number, Dataset> {
  const shards = partitionIid(simulatedTestData(split), split.sites, split.seed + 1);
  return new Map(siteIndices.map((i) => [i, shards[i]!]));
}

export function simulatedTestData(split: Pick<SimulatedSplit, 'seed'>): Dataset {
  return trainTestSplit(loadMnist(), { testFraction: 0.2, seed: split.seed }).test;
}
