import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMasks } from '../secagg/index.ts';
import { MaskExpansionPool } from './mask-expansion-pool.ts';

const pool = new MaskExpansionPool(1);
afterAll(() => pool.close());

const terms = (signs: number[]) => signs.map((s) => ({ seed: new Uint8Array(randomBytes(32)), sign: s as 1 | -1 }));
const randomWords = (n: number) => new Uint32Array(randomBytes(4 * n).buffer);

describe('MaskExpansionPool', () => {
  it('gives applyMasks\' result when the ranges are split over threads (lengths not multiples of 4)', async () => {
    for (const n of [3 * 65536 + 7, 2 * 65536 + 1, 5]) {
      const t = terms([1, -1, 1, 1, -1, -1]);
      const v = randomWords(n);
      const expected = v.slice();
      applyMasks(expected, t);
      await pool.apply(v, t);
      expect(v).toEqual(expected);
    }
  });

  it('runs jobs at once (two sites of one process) each on its own shared vector, and reuses its scratch after', async () => {
    const cases = [2 * 65536 + 3, 3 * 65536, 2 * 65536 + 3].map((n) => {
      const t = terms([1, -1, 1, -1, -1]);
      const v = randomWords(n);
      const expected = v.slice();
      applyMasks(expected, t);
      return { t, v, expected };
    });
    await Promise.all(cases.map(({ t, v }) => pool.apply(v, t)));
    for (const { v, expected } of cases) expect(v).toEqual(expected);
    const { t, v, expected } = cases[0]!;
    applyMasks(expected, t);
    await pool.apply(v, t);
    expect(v).toEqual(expected);
  });

  it('works in place on a SharedArrayBuffer view, at an offset', async () => {
    const n = 2 * 65536 + 9;
    const t = terms([1, 1, -1, 1, -1]);
    const backing = new Uint32Array(new SharedArrayBuffer(4 * (n + 3)));
    const v = backing.subarray(3);
    v.set(randomWords(n));
    backing[0] = 7;
    const expected = v.slice();
    applyMasks(expected, t);
    await pool.apply(v, t);
    expect(v).toEqual(expected);
    expect(backing[0]).toBe(7);
  });

  it('leaves the vector untouched when a thread fails, and a closed pool still computes on the caller\'s thread', async () => {
    const n = 4 * 65536;
    const v = randomWords(n);
    const before = v.slice();
    // A 31-byte seed fails in every range, the worker's included.
    await expect(pool.apply(v, [{ seed: new Uint8Array(31), sign: 1 }])).rejects.toThrow(/32 bytes/);
    expect(v).toEqual(before);
    const closed = new MaskExpansionPool(1);
    await closed.close();
    const t = terms([1, -1]);
    const expected = v.slice();
    applyMasks(expected, t);
    await closed.apply(v, t);
    expect(v).toEqual(expected);
    expect(closed.running).toBe(0);
  });

  it('starts its threads on the first job, ends them after idleMs, and starts them again for the next job', async () => {
    const idle = new MaskExpansionPool(1, { idleMs: 50 });
    try {
      expect(idle.running).toBe(0);
      const t = terms([1, -1, 1]);
      const v = randomWords(2 * 65536);
      const expected = v.slice();
      applyMasks(expected, t);
      await idle.apply(v, t);
      expect(v).toEqual(expected);
      expect(idle.running).toBe(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(idle.running).toBe(0);
      applyMasks(expected, t);
      await idle.apply(v, t);
      expect(v).toEqual(expected);
    } finally {
      await idle.close();
    }
    expect(idle.running).toBe(0);
  });
});
