import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { simdFold, SLOT_BYTES, ZERO_SLOT } from './simd-fold.ts';

describe('the SIMD fold kernel', () => {
  it('computes t + a + b + c + d − e − f − g − h mod 2^32 per word, over the bytes asked and no further, and keeps the zero slot zero', () => {
    const k = simdFold();
    expect(k).not.toBeNull();
    const W = SLOT_BYTES / 4;
    const n = 1000; // 4000 bytes: 250 vectors
    k!.words.set(new Int32Array(randomBytes(9 * SLOT_BYTES).buffer));
    k!.words.fill(0, ZERO_SLOT * W, (ZERO_SLOT + 1) * W);
    const before = k!.words.slice(0, 10 * W);
    const w = (s: number, i: number) => before[s * W + i]!;
    k!.fold(0, SLOT_BYTES, 2 * SLOT_BYTES, 3 * SLOT_BYTES, 4 * SLOT_BYTES, 5 * SLOT_BYTES, 6 * SLOT_BYTES, 7 * SLOT_BYTES, ZERO_SLOT * SLOT_BYTES, 4 * n);
    for (let i = 0; i < n; i++) {
      const expected = (w(0, i) + w(1, i) + w(2, i) + w(3, i) + w(4, i) - w(5, i) - w(6, i) - w(7, i)) | 0;
      if (k!.words[i] !== expected) expect.fail(`word ${i}: ${k!.words[i]} against ${expected}`);
    }
    expect(k!.words.subarray(n, W)).toEqual(before.subarray(n, W));
    expect(k!.words.subarray(W, 10 * W)).toEqual(before.subarray(W, 10 * W));
  });
});
