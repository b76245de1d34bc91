import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { clipToNorm, l2Norm } from './clip.ts';
import { clippedIndicator, effectiveNoiseMultiplier as adaptiveEffective, updateClipNorm, updateNoiseMultiplierFor } from './adaptive-clip.ts';
import { effectiveNoiseMultiplier as distributedEffective, siteNoiseStd } from './distributed.ts';

describe('clipping', () => {
  it('clipToNorm always yields ‖v‖ ≤ C and reports the original norm', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        (xs, c) => {
          const v = Float32Array.from(xs);
          const before = l2Norm(v);
          const { norm, scale } = clipToNorm(v, c);
          expect(norm).toBe(before);
          expect(l2Norm(v)).toBeLessThanOrEqual(c);
          expect(scale).toBeLessThanOrEqual(1);
          if (before <= c) expect(scale).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('l2Norm accumulates in float64 and survives overflow-prone inputs', () => {
    expect(l2Norm(new Float32Array([3, 4]))).toBe(5);
    const big = new Float32Array(4).fill(3e38);
    expect(l2Norm(big)).toBeCloseTo(6e38, -33);
    expect(Number.isNaN(l2Norm(new Float32Array([NaN])))).toBe(true);
  });
});

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('geometric update moves C towards the target quantile', () => {
    expect(clippedIndicator(1, 2)).toBe(1);
    expect(clippedIndicator(3, 2)).toBe(0);
    // too many unclipped → shrink; too few → grow; on target → unchanged
    expect(updateClipNorm({ clipNorm: 1, noisedUnclippedFraction: 0.9, targetQuantile: 0.5, learningRate: 0.2 })).toBeCloseTo(Math.exp(-0.08), 12);
    expect(updateClipNorm({ clipNorm: 1, noisedUnclippedFraction: 0.1, targetQuantile: 0.5, learningRate: 0.2 })).toBeGreaterThan(1);
    expect(updateClipNorm({ clipNorm: 2, noisedUnclippedFraction: 0.5, targetQuantile: 0.5, learningRate: 0.2 })).toBe(2);
  });

  it('effective noise multiplier combines update and count noise (Theorem 1)', () => {
    const z = adaptiveEffective(1.2, 10);
    expect(z).toBeCloseTo((1.2 ** -2 + 20 ** -2) ** -0.5, 12);
    expect(z).toBeLessThan(1.2);
    expect(updateNoiseMultiplierFor(z, 10)).toBeCloseTo(1.2, 10);
  });
});

describe('distributed noise', () => {
  it('per-site std sums to σC and dropouts lower the true multiplier', () => {
    const s = siteNoiseStd({ noiseMultiplier: 1.1, clipNorm: 0.5, expectedSites: 100 });
    expect(Math.sqrt(100 * s * s)).toBeCloseTo(0.55, 12);
    expect(distributedEffective({ noiseMultiplier: 1.1, expectedSites: 100, survivingSites: 100 })).toBeCloseTo(1.1, 12);
    expect(distributedEffective({ noiseMultiplier: 1.1, expectedSites: 100, survivingSites: 81 })).toBeCloseTo(0.99, 12);
    expect(() => siteNoiseStd({ noiseMultiplier: 1, clipNorm: 1, expectedSites: 0 })).toThrow();
  });
});
