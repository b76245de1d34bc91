import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { coordinateMedian } from './median.ts';
import { trimmedMean } from './trimmed-mean.ts';
import { krum, krumSelect } from './krum.ts';
import type { IndividualAggregator } from './aggregator.ts';

const SIZE = 4;
const vector = fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }), { minLength: SIZE, maxLength: SIZE }).map((a) => Float32Array.from(a));

function aggregate(aggregator: IndividualAggregator, updates: Float32Array[], numExamples = (k: number) => k + 1) {
  const round = aggregator.begin(updates[0]!.length);
  updates.forEach((u, k) => round.add(u, numExamples(k)));
  return round.finish();
}

const f32 = (...xs: number[]) => Float32Array.from(xs);

describe('coordinate-wise median and trimmed mean: hand-computed', () => {
  const updates = [f32(1, 10, -3), f32(2, -100, 0), f32(3, 20, 7), f32(1000, 30, 1), f32(4, 40, 2)];

  it('median takes each coordinate\'s middle value, ignoring the declared example counts', () => {
    expect(Array.from(aggregate(coordinateMedian({ maxUpdates: 5 }), updates).delta)).toEqual([3, 20, 1]);
    expect(Array.from(aggregate(coordinateMedian({ maxUpdates: 5 }), updates, (k) => (k === 3 ? 1e9 : 1)).delta)).toEqual([3, 20, 1]);
    // Even count: the mean of the two middle values.
    expect(Array.from(aggregate(coordinateMedian({ maxUpdates: 4 }), updates.slice(0, 4)).delta)).toEqual([2.5, 15, 0.5]);
  });

  it('trimmed mean drops ⌊βn⌋ from each end per coordinate', () => {
    // β = 0.2, n = 5: one from each end. Coordinate 0: {2, 3, 4}; 1: {10, 20, 30}; 2: {0, 1, 2}.
    const round = trimmedMean({ maxUpdates: 5, trimRatio: 0.2 }).begin(3);
    updates.forEach((u, k) => round.add(u, k + 1));
    expect(round.contributors).toBe(5);
    expect(round.totalWeight).toBe(15); // the declared counts, reported, not used
    const { delta, measurements } = round.finish();
    expect(Array.from(delta)).toEqual([3, 20, 1]);
    expect(measurements).toEqual({ contributors: 5, trimmedEachSide: 1 });
    // β = 0.1, n = 5: nothing trimmed, the plain mean.
    expect(Array.from(aggregate(trimmedMean({ maxUpdates: 5, trimRatio: 0.1 }), updates).delta)).toEqual([202, 0, 1.4].map(Math.fround));
  });

  it('keeps copies (the caller may reuse its array), bounds the buffer, and refuses misuse', () => {
    const round = coordinateMedian({ maxUpdates: 2 }).begin(2);
    const reused = f32(1, 1);
    round.add(reused, 1);
    reused.fill(5);
    round.add(reused, 1);
    expect(() => round.add(reused, 1)).toThrow(/already holds 2 updates/);
    expect(() => coordinateMedian({ maxUpdates: 2 }).begin(2).add(f32(1), 1)).toThrow(/1 values, model has 2/);
    expect(Array.from(round.finish().delta)).toEqual([3, 3]);
    expect(() => round.finish()).toThrow(/already finished/);
    expect(() => coordinateMedian({ maxUpdates: 2 }).begin(2).finish()).toThrow(/without updates/);
    expect(() => trimmedMean({ maxUpdates: 2, trimRatio: 0.5 })).toThrow(/trim ratio/);
  });
});

describe('coordinate-wise median and trimmed mean: properties', () => {
  const updates = fc.array(vector, { minLength: 1, maxLength: 9 });
  const aggregators = fc.oneof(
    fc.constant(coordinateMedian({ maxUpdates: 9 })),
    fc.double({ min: 0, max: 0.49, noNaN: true }).map((trimRatio) => trimmedMean({ maxUpdates: 9, trimRatio })),
  );

  it('do not depend on the order updates arrive in', () => {
    const permuted = updates.chain((us) => fc.tuple(fc.constant(us), fc.shuffledSubarray(us, { minLength: us.length, maxLength: us.length })));
    fc.assert(fc.property(permuted, aggregators, ([us, shuffled], aggregator) => {
      expect(aggregate(aggregator, shuffled).delta).toEqual(aggregate(aggregator, us).delta);
    }));
  });

  it('stay within each coordinate\'s [min, max] of the inputs', () => {
    fc.assert(fc.property(updates, aggregators, (us, aggregator) => {
      const { delta } = aggregate(aggregator, us);
      for (let i = 0; i < SIZE; i++) {
        const column = us.map((u) => u[i]!);
        expect(delta[i]).toBeGreaterThanOrEqual(Math.min(...column));
        expect(delta[i]).toBeLessThanOrEqual(Math.max(...column));
      }
    }));
  });
});

describe('Krum and Multi-Krum', () => {
  it('hand-computed: scores are sums of the n − f − 2 smallest squared distances', () => {
    // n = 5, f = 1: 2 neighbours each. Points on a line: 0, 1, 2, 3, 100.
    // Scores: 0 → 1+4 = 5; 1 → 1+1 = 2; 2 → 1+1 = 2; 3 → 1+4 = 5; 100 → 97²+98² = 18813.
    const updates = [0, 1, 2, 3, 100].map((x) => f32(x, 0));
    expect(krumSelect(updates, 1, 5)).toEqual([1, 2, 0, 3, 4]);
    expect(Array.from(aggregate(krum({ maxUpdates: 5, byzantine: 1, select: 1 }), updates).delta)).toEqual([1, 0]);
    const multi = aggregate(krum({ maxUpdates: 5, byzantine: 1, select: 3 }), updates);
    expect(Array.from(multi.delta)).toEqual([1, 0]); // mean of 1, 2, 0
    expect(multi.measurements).toEqual({ contributors: 5, selected: 3 });
  });

  it('refuses a round too small for its guarantee (n < 2f + 3) and bad parameters', () => {
    expect(() => aggregate(krum({ maxUpdates: 9, byzantine: 2, select: 1 }), [f32(0), f32(1), f32(2), f32(3), f32(4), f32(5)])).toThrow(/at least 7 updates/);
    expect(() => krum({ maxUpdates: 9, byzantine: -1, select: 1 })).toThrow(/non-negative/);
    expect(() => krum({ maxUpdates: 9, byzantine: 1, select: 0 })).toThrow(/at least one/);
  });

  it('treats a NaN update as the farthest one', () => {
    const updates = [f32(0, 0), f32(0.1, 0), f32(0.2, 0), f32(Number.NaN, 0), f32(0.3, 0)];
    expect(aggregate(krum({ maxUpdates: 5, byzantine: 1, select: 4 }), updates).delta.every(Number.isFinite)).toBe(true);
  });

  it('picks an honest update when fewer than (n − 2)/2 updates are far away', () => {
    // Honest updates in a ball of radius 1 around a centre; Byzantine ones at least 1000 away.
    const honest = fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: SIZE, maxLength: SIZE });
    const far = fc.tuple(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: SIZE, maxLength: SIZE }), fc.double({ min: 1e3, max: 1e6, noNaN: true }));
    const scenario = fc.integer({ min: 3, max: 12 }).chain((n) => fc.record({
      n: fc.constant(n),
      f: fc.integer({ min: 0, max: Math.ceil((n - 2) / 2) - 1 }),
      centre: fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: SIZE, maxLength: SIZE }),
      honest: fc.array(honest, { minLength: n, maxLength: n }),
      far: fc.array(far, { minLength: n, maxLength: n }),
      order: fc.array(fc.nat(), { minLength: n, maxLength: n }),
    }));
    fc.assert(fc.property(scenario, ({ n, f, centre, honest: h, far: z, order }) => {
      // The first f (after shuffling by `order`) are Byzantine: a direction scaled far away.
      const sites = Array.from({ length: n }, (_, k) => k).sort((a, b) => order[a]! - order[b]! || a - b);
      const byzantine = new Set(sites.slice(0, f));
      const updates = Array.from({ length: n }, (_, k) => {
        if (!byzantine.has(k)) return Float32Array.from(centre, (c, i) => c + h[k]![i]!);
        const [direction, scale] = z[k]!;
        const norm = Math.hypot(...direction) || 1;
        return Float32Array.from(centre, (c, i) => c + (norm === 1 && direction.every((d) => d === 0) ? (i === 0 ? scale : 0) : (direction[i]! / norm) * scale));
      });
      const [chosen] = krumSelect(updates, f, 1);
      expect(byzantine.has(chosen!)).toBe(false);
    }));
  });
});
