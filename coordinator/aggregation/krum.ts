import { ConclaveError } from '../../protocols/index.ts';
import type { IndividualAggregator } from './aggregator.ts';
import { bufferedAggregator } from './individual.ts';

/**
 * Krum and Multi-Krum (Blanchard et al. 2017, "Machine learning with adversaries: Byzantine
 * tolerant gradient descent"). With n updates of which at most f are Byzantine, each update's
 * score is the sum of its squared distances to its n − f − 2 nearest neighbours; Krum returns the
 * update with the lowest score, Multi-Krum the mean of the `select` lowest. The guarantee needs
 * n ≥ 2f + 3, so a round with fewer updates is refused rather than aggregated without it (the
 * config schema keeps minSites at or above that).
 */
export function krum(options: { maxUpdates: number; byzantine: number; select: number }): IndividualAggregator {
  const { byzantine: f, select } = options;
  if (!Number.isSafeInteger(f) || f < 0) throw new ConclaveError('INVALID_ARGUMENT', `the number of Byzantine sites Krum tolerates must be a non-negative integer, got ${f}`);
  if (!Number.isSafeInteger(select) || select < 1) throw new ConclaveError('INVALID_ARGUMENT', `Multi-Krum must select at least one update, got ${select}`);
  return bufferedAggregator(select === 1 ? 'krum' : 'multi-krum', options.maxUpdates, (updates, modelSize) => {
    const n = updates.length;
    if (n < 2 * f + 3) throw new ConclaveError('FEDERATION_STATE', `Krum with f = ${f} needs at least ${2 * f + 3} updates, the round has ${n}`);
    const chosen = krumSelect(updates, f, Math.min(select, n));
    const delta = new Float32Array(modelSize);
    const sum = new Float64Array(modelSize);
    for (const k of chosen) {
      const u = updates[k]!;
      for (let i = 0; i < modelSize; i++) sum[i]! += u[i]!;
    }
    for (let i = 0; i < modelSize; i++) delta[i] = sum[i]! / chosen.length;
    return { delta, measurements: { contributors: n, selected: chosen.length } };
  });
}

/** Indices of the `select` updates with the lowest Krum scores (ties: the earlier index). */
export function krumSelect(updates: Float32Array[], f: number, select: number): number[] {
  const n = updates.length;
  const distance = Array.from({ length: n }, () => new Float64Array(n));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const ua = updates[a]!;
      const ub = updates[b]!;
      let d = 0;
      for (let i = 0; i < ua.length; i++) {
        const x = ua[i]! - ub[i]!;
        d += x * x;
      }
      // A NaN update (a faulty site) is as far as can be, not an incomparable score.
      if (Number.isNaN(d)) d = Number.POSITIVE_INFINITY;
      distance[a]![b] = d;
      distance[b]![a] = d;
    }
  }
  const neighbours = n - f - 2;
  const scores = distance.map((row, a) => {
    const others = row.filter((_, b) => b !== a).sort();
    let s = 0;
    for (let k = 0; k < neighbours; k++) s += others[k]!;
    return s;
  });
  return scores.map((s, k) => [s, k] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).slice(0, select).map(([, k]) => k);
}
