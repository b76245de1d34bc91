import { ConclaveError } from '../../protocols/index.ts';
import type { IndividualAggregator } from './aggregator.ts';
import { bufferedAggregator, forEachSortedColumn } from './individual.ts';

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the ⌊β·n⌋ largest and the
 * ⌊β·n⌋ smallest values and average the rest. Tolerates up to ⌊β·n⌋ arbitrary updates per
 * coordinate; β = 0 is the plain (unweighted) mean.
 */
export function trimmedMean(options: { maxUpdates: number; trimRatio: number }): IndividualAggregator {
  const { trimRatio } = options;
  if (!(trimRatio >= 0 && trimRatio < 0.5)) throw new ConclaveError('INVALID_ARGUMENT', `trim ratio must be in [0, 0.5), got ${trimRatio}`);
  return bufferedAggregator('trimmed-mean', options.maxUpdates, (updates, modelSize) => {
    const n = updates.length;
    const trimmed = Math.floor(trimRatio * n);
    const kept = n - 2 * trimmed; // ≥ 1 because β < 0.5
    const delta = forEachSortedColumn(updates, modelSize, (c) => {
      let sum = 0;
      for (let k = trimmed; k < n - trimmed; k++) sum += c[k]!;
      return sum / kept;
    });
    return { delta, measurements: { contributors: n, trimmedEachSide: trimmed } };
  });
}
