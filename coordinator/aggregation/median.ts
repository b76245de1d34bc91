import type { IndividualAggregator } from './aggregator.ts';
import { bufferedAggregator, forEachSortedColumn } from './individual.ts';

/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-robust distributed learning"): each
 * coordinate of the aggregate is the median of that coordinate over the round's updates (the mean
 * of the two middle values for an even count). Fewer than half the updates, however large, cannot
 * move a coordinate outside the range of the honest ones.
 */
export function coordinateMedian(options: { maxUpdates: number }): IndividualAggregator {
  return bufferedAggregator('median', options.maxUpdates, (updates, modelSize) => {
    const n = updates.length;
    const half = n >> 1;
    const delta = forEachSortedColumn(updates, modelSize, (c) => (n % 2 === 1 ? c[half]! : (c[half - 1]! + c[half]!) / 2));
    return { delta, measurements: { contributors: n } };
  });
}
