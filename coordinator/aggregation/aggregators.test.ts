import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { aggregationConflict, type StreamingSumAggregator } from './aggregator.ts';
import { recycleShared, uniformMean, weightedMean } from './mean.ts';
import { PARALLEL_FOLD_MIN } from './fold-threads.ts';
import { takeStaging } from '../../protocols/tensor-verifier.ts';
import { differentialPrivacy } from './dp.ts';

const SIZE = 5;
const vector = fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: SIZE, maxLength: SIZE }).map((a) => Float32Array.from(a));
const update = fc.record({ n: fc.integer({ min: 1, max: 10_000 }), delta: vector, unclipped: fc.boolean() });
const updates = fc.array(update, { minLength: 1, maxLength: 8 });

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(e)));
  }
}

/** Σ wᵢΔᵢ in float64, computed directly. */
function weightedSum(us: Array<{ delta: Float32Array }>, weight: (i: number) => number): Float64Array {
  const sum = new Float64Array(SIZE);
  us.forEach((u, k) => {
    for (let i = 0; i < SIZE; i++) sum[i]! += weight(k) * u.delta[i]!;
  });
  return sum;
}

/** The update scaled to norm ≤ C, as the clipping definition says (not as the code under test does it). */
function clipped(delta: Float32Array, clipNorm: number): Float64Array {
  const norm = Math.hypot(...delta);
  const factor = norm > clipNorm ? clipNorm / norm : 1;
  return Float64Array.from(delta, (x) => x * factor);
}

describe('weightedMean and uniformMean', () => {
  it('weightedMean equals Σ nᵢΔᵢ / Σ nᵢ, whatever the order updates arrive in', () => {
    fc.assert(fc.property(updates, (us) => {
      const total = us.reduce((s, u) => s + u.n, 0);
      const expected = Array.from(weightedSum(us, (k) => us[k]!.n), (x) => x / total);
      for (const order of [us, [...us].reverse()]) {
        const round = weightedMean().begin(SIZE);
        for (const u of order) round.add(u.delta, u.n);
        expect(round.contributors).toBe(us.length);
        expect(round.totalWeight).toBe(total);
        const { delta, measurements } = round.finish();
        expectClose(delta, expected);
        expect(measurements).toEqual({ contributors: us.length, totalWeight: total });
      }
    }));
  });

  it('uniformMean equals Σ Δᵢ / count and ignores the declared example counts', () => {
    fc.assert(fc.property(updates, (us) => {
      const expected = Array.from(weightedSum(us, () => 1), (x) => x / us.length);
      const round = uniformMean().begin(SIZE);
      for (const u of us) round.add(u.delta, u.n % 3); // 0 (withheld) is fine: the count is not used
      expect(round.totalWeight).toBe(us.length);
      expectClose(round.finish().delta, expected);
    }));
  });

  it('add() one by one and addSum() of the same updates give the same aggregate', () => {
    fc.assert(fc.property(updates, updates, fc.constantFrom(weightedMean, uniformMean), (folded, summed, make) => {
      const aggregator = make();
      const weight = (n: number) => (aggregator.weighting === 'examples' ? n : 1);
      const one = aggregator.begin(SIZE);
      for (const u of [...folded, ...summed]) one.add(u.delta, u.n, { unclipped: u.unclipped });
      const mixed = aggregator.begin(SIZE);
      for (const u of folded) mixed.add(u.delta, u.n, { unclipped: u.unclipped });
      // What a protection protocol would unprotect: the sites' pre-weighted deltas, summed.
      mixed.addSum(weightedSum(summed, (k) => weight(summed[k]!.n)), summed.length, summed.reduce((s, u) => s + weight(u.n), 0),
        summed.filter((u) => u.unclipped).length);
      expect(mixed.contributors).toBe(one.contributors);
      expect(mixed.totalWeight).toBe(one.totalWeight);
      const a = one.finishSum();
      const b = mixed.finishSum();
      expect(b.unclippedCount).toBe(a.unclippedCount);
      expectClose(b.sum, a.sum, 1e-9);
    }));
  });

  it('does not modify or keep the caller\'s array', () => {
    const delta = Float32Array.from([1, 2, 3, 4, 5]);
    const round = weightedMean().begin(SIZE);
    round.add(delta, 2);
    delta.fill(100);
    expect(Array.from(round.finish().delta)).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses wrong sizes, non-positive weights, inconsistent sums, an empty round and a second finish', () => {
    const round = weightedMean().begin(3);
    expect(() => round.add(new Float32Array(2), 1)).toThrow(/3/);
    expect(() => round.add(new Float32Array(3), 0)).toThrow(/positive/);
    expect(() => round.add(new Float32Array(3), 1.5)).toThrow(/positive integer/);
    expect(() => round.addSum(new Float64Array(3), 2, 1)).toThrow(/totalWeight/);
    expect(() => round.addSum(new Float64Array(3), 1, 1, 2)).toThrow(/unclippedCount/);
    expect(() => uniformMean().begin(3).addSum(new Float64Array(3), 2, 5)).toThrow(/totalWeight/);
    expect(() => round.finish()).toThrow(/without updates/);
    const done = uniformMean().begin(1);
    done.add(new Float32Array(1), 1);
    done.finish();
    expect(() => done.add(new Float32Array(1), 1)).toThrow(/already finished/);
    expect(() => done.finish()).toThrow(/already finished/);
  });
});

describe('differential privacy wrapper', () => {
  const dpOptions = fc.record({
    clipNorm: fc.double({ min: 0.1, max: 20, noNaN: true }),
    expectedSites: fc.double({ min: 0.5, max: 50, noNaN: true }),
    clipUpdates: fc.boolean(),
  });

  it('with noise 0 equals Σ clip(Δᵢ) ÷ E: uniform weights, the public denominator, never the actual count', () => {
    fc.assert(fc.property(updates, dpOptions, (us, o) => {
      const round = differentialPrivacy(uniformMean(), { ...o, noiseStd: 0 }).begin(SIZE);
      for (const u of us) round.add(u.delta, u.n, { unclipped: u.unclipped });
      const expected = new Float64Array(SIZE);
      for (const u of us) {
        const c = o.clipUpdates ? clipped(u.delta, o.clipNorm) : Float64Array.from(u.delta);
        for (let i = 0; i < SIZE; i++) expected[i]! += c[i]!;
      }
      const { delta, measurements } = round.finish();
      // Clipping shrinks by a hair more than C/‖Δ‖ so the float32 result stays inside the ball.
      expectClose(delta, Array.from(expected, (x) => x / o.expectedSites), 1e-5);
      expect(measurements).toEqual({ contributors: us.length, unclippedCount: us.filter((u) => u.unclipped).length });
    }));
  });

  it('clips to C when the coordinator sees the update, without touching the caller\'s array', () => {
    const delta = Float32Array.from([30, 40, 0, 0, 0]); // norm 50
    const round = differentialPrivacy(uniformMean(), { clipNorm: 5, expectedSites: 1, noiseStd: 0, clipUpdates: true }).begin(SIZE);
    round.add(delta, 7);
    expect(Array.from(delta)).toEqual([30, 40, 0, 0, 0]);
    const out = round.finish().delta;
    expect(Math.hypot(...out)).toBeLessThanOrEqual(5);
    expect(out[0]).toBeCloseTo(3, 4);
    expect(out[1]).toBeCloseTo(4, 4);
  });

  it('add() and addSum() of the same (already clipped) updates give the same release', () => {
    fc.assert(fc.property(updates, updates, dpOptions, (folded, summed, o) => {
      const dp = differentialPrivacy(uniformMean(), { ...o, noiseStd: 0, clipUpdates: false });
      const one = dp.begin(SIZE);
      const mixed = dp.begin(SIZE);
      for (const u of [...folded, ...summed]) one.add(u.delta, u.n, { unclipped: u.unclipped });
      for (const u of folded) mixed.add(u.delta, u.n, { unclipped: u.unclipped });
      mixed.addSum(weightedSum(summed, () => 1), summed.length, summed.length, summed.filter((u) => u.unclipped).length);
      const a = one.finish();
      const b = mixed.finish();
      expect(b.measurements).toEqual(a.measurements);
      expectClose(b.delta, a.delta, 1e-6);
    }));
  });

  it('adds N(0, σ²) to the sum before dividing by E', () => {
    const size = 40_000;
    const std = 3;
    const expectedSites = 4;
    const round = differentialPrivacy(uniformMean(), { clipNorm: 1, expectedSites, noiseStd: std, clipUpdates: true }).begin(size);
    const { delta } = round.finish();
    let sum = 0;
    let ssq = 0;
    for (const x of delta) {
      sum += x;
      ssq += x * x;
    }
    const mean = sum / size;
    const sd = Math.sqrt(ssq / size - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(sd).toBeGreaterThan((std / expectedSites) * 0.97);
    expect(sd).toBeLessThan((std / expectedSites) * 1.03);
  });

  it('with no contribution still releases: the noise alone ÷ E (and exactly zero without noise)', () => {
    const silent = differentialPrivacy(uniformMean(), { clipNorm: 1, expectedSites: 2, noiseStd: 0, clipUpdates: true }).begin(3);
    expect(silent.finish()).toEqual({ delta: new Float32Array(3), measurements: { contributors: 0, unclippedCount: 0 } });
    const noised = differentialPrivacy(uniformMean(), { clipNorm: 1, expectedSites: 2, noiseStd: 1, clipUpdates: true }).begin(64);
    expect(noised.finish().delta.some((x) => x !== 0)).toBe(true);
  });

  it('refuses an inner aggregator that weights by examples, and parameters that break the mechanism', () => {
    const ok = { clipNorm: 1, expectedSites: 1, noiseStd: 1, clipUpdates: true };
    expect(() => differentialPrivacy(weightedMean(), ok)).toThrow(/uniform weights/);
    expect(() => differentialPrivacy(uniformMean(), { ...ok, clipNorm: 0 })).toThrow(/clipNorm/);
    expect(() => differentialPrivacy(uniformMean(), { ...ok, expectedSites: 0 })).toThrow(/expectedSites/);
    expect(() => differentialPrivacy(uniformMean(), { ...ok, noiseStd: -1 })).toThrow(/noiseStd/);
    expect(() => differentialPrivacy(uniformMean(), { ...ok, noiseStd: Number.NaN })).toThrow(/noiseStd/);
  });

  it('composes: it is itself a uniform streaming-sum aggregator', () => {
    const dp: StreamingSumAggregator = differentialPrivacy(uniformMean(), { clipNorm: 1, expectedSites: 1, noiseStd: 0, clipUpdates: false });
    expect(dp).toMatchObject({ capability: 'streaming-sum', weighting: 'uniform', name: 'dp(uniform-mean)' });
  });
});

describe('large rounds on pooled buffers', () => {
  const N = PARALLEL_FOLD_MIN;
  const ramp = (scale: number) => Float32Array.from({ length: N }, (_, i) => scale * ((i % 97) - 48));

  it('a round on the previous round\'s sum buffer starts from zero', () => {
    const mean = uniformMean();
    const first = mean.begin(N);
    first.add(ramp(1), 1);
    const firstSum = first.finishSum().sum;
    expect(firstSum[1]).toBe(-47);
    recycleShared(firstSum);
    const second = mean.begin(N);
    second.add(ramp(2), 1);
    const { sum } = second.finishSum();
    expect(sum.buffer).toBe(firstSum.buffer);
    expect(sum[1]).toBe(-94);
    expect(sum.every((x, i) => x === 2 * ((i % 97) - 48))).toBe(true);
  });

  it('DP rounds one after another give what a fresh round gives, and a finished round takes no more updates', () => {
    const options = { clipNorm: 1e4, expectedSites: 2, noiseStd: 0, clipUpdates: true };
    const dp = differentialPrivacy(uniformMean(), options);
    const run = () => {
      const round = dp.begin(N);
      round.add(ramp(1), 1);
      round.add(ramp(0.5), 1);
      return round;
    };
    const fresh = run().finish().delta;
    const round = run();
    // Compared as bytes: a failing toEqual would diff a million elements.
    const same = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(fresh.buffer, fresh.byteOffset, fresh.byteLength));
    expect(same(round.finish().delta)).toBe(true);
    expect(same(run().finish().delta)).toBe(true);
    // finish() gave the clip scratch back to the pool, where the next taker of its size gets it:
    // a late add must not write into it.
    const next = new Float32Array(takeStaging(N * 4)).fill(7);
    expect(() => round.add(ramp(3), 1)).toThrow(/already finished/);
    expect(next.every((x) => x === 7)).toBe(true);
  });
});

describe('aggregationConflict', () => {
  it('refuses an aggregator that needs each update under a protocol that yields only the sum, or under DP', () => {
    expect(aggregationConflict('individual', { kind: 'secagg', output: 'sum' }, false)).toMatch(/only ever yields their sum/);
    expect(aggregationConflict('individual', { kind: 'none', output: 'individual-updates' }, true)).toMatch(/differential privacy/);
    expect(aggregationConflict('individual', { kind: 'none', output: 'individual-updates' }, false)).toBeNull();
    expect(aggregationConflict('streaming-sum', { kind: 'secagg', output: 'sum' }, true)).toBeNull();
  });
});
