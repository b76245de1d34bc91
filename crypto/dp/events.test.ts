import { describe, expect, it } from 'vitest';
import { DpError } from './errors.ts';
import { bucketEvents, groupEvents, isUnboundedNoise, validateEvents } from './events.ts';

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(DpError);
    return `${(err as DpError).code}: ${(err as Error).message}`;
  }
  return 'no error';
}

describe('validateEvents', () => {
  it('rejects malformed input with clear messages', () => {
    expect(code(() => validateEvents([]))).toMatch(/DP_INVALID_EVENT: .*non-empty/);
    expect(code(() => validateEvents('x'))).toMatch(/must be an array/);
    expect(code(() => validateEvents([{ noiseMultiplier: -1, sampleRate: 0.1, count: 1 }]))).toMatch(/event\[0\]: noiseMultiplier/);
    expect(code(() => validateEvents([{ noiseMultiplier: NaN, sampleRate: 0.1, count: 1 }]))).toMatch(/noiseMultiplier/);
    expect(code(() => validateEvents([{ noiseMultiplier: 1, sampleRate: 0, count: 1 }]))).toMatch(/sampleRate must be in \(0, 1\]/);
    expect(code(() => validateEvents([{ noiseMultiplier: 1, sampleRate: 1.5, count: 1 }]))).toMatch(/sampleRate/);
    expect(code(() => validateEvents([{ noiseMultiplier: 1, sampleRate: 0.5, count: 1.5 }]))).toMatch(/count must be a positive integer/);
    expect(code(() => validateEvents([{ noiseMultiplier: 1, sampleRate: 0.5, count: 0 }]))).toMatch(/count/);
    expect(code(() => validateEvents([{ noiseMultiplier: 1, sampleRate: 0.5, count: 1, sampling: 'x' }]))).toMatch(/sampling/);
    expect(validateEvents([{ noiseMultiplier: 0, sampleRate: 1, count: 2 }])).toEqual([{ noiseMultiplier: 0, sampleRate: 1, count: 2 }]);
  });

  it('groups identical events and buckets pessimistically', () => {
    const g = groupEvents([
      { noiseMultiplier: 1, sampleRate: 0.1, count: 2 },
      { noiseMultiplier: 2, sampleRate: 0.1, count: 1 },
      { noiseMultiplier: 1, sampleRate: 0.1, count: 3 },
    ]);
    expect(g.map((e) => e.count)).toEqual([5, 1]);
    const many = Array.from({ length: 500 }, (_, i) => ({ noiseMultiplier: 1 + i / 1000, sampleRate: 0.01 + i / 1e5, count: 1 }));
    const b = bucketEvents(many, 10);
    expect(b.length).toBeLessThanOrEqual(10);
    expect(b.reduce((s, e) => s + e.count, 0)).toBe(500);
    expect(Math.min(...b.map((e) => e.noiseMultiplier))).toBeLessThanOrEqual(1);
    expect(Math.max(...b.map((e) => e.sampleRate))).toBeGreaterThanOrEqual(0.01 + 499 / 1e5);
  });
});

describe('isUnboundedNoise', () => {
  it('is true exactly where 1/(2σ²) overflows float64', () => {
    for (const s of [0, 1e-300, 1e-160, 1e-155, 5.2e-155]) expect(isUnboundedNoise(s), String(s)).toBe(true);
    for (const s of [5.3e-155, 1e-154, 1e-150, 1e-8, 1, 1e300]) expect(isUnboundedNoise(s), String(s)).toBe(false);
  });
});
