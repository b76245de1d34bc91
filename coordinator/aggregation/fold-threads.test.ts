import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { FOLD_BLOCK, PARALLEL_FOLD_MIN, fold, foldThreadsStarted, helperBlocks, prepareFoldThreads, setFoldThreads } from './fold-threads.ts';
import { axpy } from './kernels.ts';

/** A view of a fresh SharedArrayBuffer, filled in place (TypedArray.map would return an unshared copy). */
function shared<T extends Float32Array | Float64Array>(Kind: new (b: SharedArrayBuffer) => T, n: number, value: (i: number) => number = () => 0): T {
  const a = new Kind(new SharedArrayBuffer(n * (Kind === (Float64Array as unknown) ? 8 : 4)));
  for (let i = 0; i < n; i++) a[i] = value(i);
  return a;
}

describe('folds split across threads', () => {
  it.skipIf(availableParallelism() < 2)('give axpy\'s sum bit for bit, float32 updates and float64 partial sums, helpers taking blocks', async () => {
    prepareFoldThreads(PARALLEL_FOLD_MIN);
    expect(await foldThreadsStarted()).toBeGreaterThanOrEqual(1);
    const before = helperBlocks;
    for (const n of [PARALLEL_FOLD_MIN, PARALLEL_FOLD_MIN + 7, 3 * PARALLEL_FOLD_MIN + 1, 32 * FOLD_BLOCK]) {
      const sum = shared(Float64Array, n, (i) => Math.sin(i) * 1e-3);
      const x = shared(Float32Array, n, (i) => Math.cos(i * 0.7));
      const partial = shared(Float64Array, n, (i) => Math.tan(i) * 1e-6);
      const expected = sum.slice();
      axpy(expected, x, 37);
      axpy(expected, partial, 1);
      fold(sum, x, 37);
      fold(sum, partial, 1);
      expect(Buffer.from(sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
    // Which thread folds which block is up to the scheduler; over these ~90 blocks an idle helper
    // takes some.
    expect(helperBlocks).toBeGreaterThan(before);
  });

  it('folds on the calling thread what helpers cannot see (unshared or small arrays)', () => {
    const n = PARALLEL_FOLD_MIN;
    const sum = shared(Float64Array, n);
    const x = new Float32Array(n).map((_, i) => i % 5);
    const before = helperBlocks;
    fold(sum, x, 2);
    const small = new Float64Array(10);
    fold(small, new Float32Array(10).fill(1), 3);
    expect(helperBlocks).toBe(before);
    expect(sum[4]).toBe(8);
    expect(small[9]).toBe(3);
  });

  it('an operator\'s count: 0 folds on the calling thread alone, N starts N helpers', async () => {
    const n = 4 * FOLD_BLOCK + PARALLEL_FOLD_MIN;
    try {
      setFoldThreads(0);
      prepareFoldThreads(n);
      expect(await foldThreadsStarted()).toBe(0);
      const sum = shared(Float64Array, n, (i) => i * 1e-3);
      const x = shared(Float32Array, n, (i) => Math.sin(i));
      const expected = sum.slice();
      axpy(expected, x, 5);
      const before = helperBlocks;
      fold(sum, x, 5);
      expect(helperBlocks).toBe(before);
      expect(Buffer.from(sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);

      setFoldThreads(2);
      prepareFoldThreads(n);
      expect(await foldThreadsStarted()).toBe(2);
      for (const bad of [-1, 1.5, Number.NaN, 65]) expect(() => setFoldThreads(bad)).toThrow(RangeError);
    } finally {
      setFoldThreads(null);
    }
  });
});
