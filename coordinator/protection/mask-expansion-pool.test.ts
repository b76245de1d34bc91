import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  advertise, applyMasks, maskInput, placeSite, revealShares, setupRound, shareKeys, unmaskSum, addInto,
  type Advertisement, type Revealed, type SiteSecrets,
} from '../../crypto/secagg/index.ts';
import { MaskExpansionPool, unmaskSumParallel } from './mask-expansion-pool.ts';

const pool = new MaskExpansionPool(1);
afterAll(() => pool.close());

const terms = (signs: number[]) => signs.map((s) => ({ seed: new Uint8Array(randomBytes(32)), sign: s as 1 | -1 }));

describe('MaskExpansionPool', () => {
  it('gives applyMasks\' result when the ranges are split over threads (lengths not multiples of 4)', async () => {
    for (const n of [3 * 65536 + 7, 2 * 65536 + 1, 5]) {
      const t = terms([1, -1, 1, 1, -1, -1]);
      const v = new Uint32Array(randomBytes(4 * n).buffer);
      const expected = v.slice();
      applyMasks(expected, t);
      await pool.apply(v, t);
      expect(v).toEqual(expected);
    }
  });

  it('leaves the vector untouched when a thread fails, and a closed pool still computes on the caller\'s thread', async () => {
    const n = 4 * 65536;
    const v = new Uint32Array(randomBytes(4 * n).buffer);
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
  });

  it('unmaskSumParallel equals unmaskSum on a round with dropouts', async () => {
    const n = 8;
    const length = 2 * 65536 + 3;
    const round = setupRound({ roundId: 'pool', n, k: 6, t: 3, graphSeed: randomBytes(32), length });
    const secrets: SiteSecrets[] = [];
    const ads = new Map<number, Advertisement>();
    for (let i = 0; i < n; i++) {
      const a = advertise();
      placeSite(round, a.secrets, i);
      secrets.push(a.secrets);
      ads.set(i, a.advertisement);
    }
    const inbox = new Map<number, Map<number, Uint8Array>>();
    for (let i = 0; i < n; i++) {
      const sealed = await shareKeys(round, secrets[i]!, new Map(round.graph.neighbours[i]!.map((j) => [j, ads.get(j)!])));
      for (const [to, c] of sealed) {
        if (!inbox.has(to)) inbox.set(to, new Map());
        inbox.get(to)!.set(i, c);
      }
    }
    const survivors = [0, 1, 2, 4, 5, 7];
    const dropped = [3, 6];
    const sum = new Uint32Array(length);
    const expected = new Uint32Array(length);
    for (const i of survivors) {
      const x = new Uint32Array(randomBytes(4 * length).buffer);
      addInto(expected, x);
      addInto(sum, maskInput(round, secrets[i]!, ads, inbox.get(i)!, x));
    }
    const revealed = new Map<number, Revealed>(survivors.map((i) => [i, revealShares(round, secrets[i]!, { survivors, dropped })]));
    const u2 = new Set(Array.from({ length: n }, (_, i) => i));
    const parallel = await unmaskSumParallel(pool, round, sum.slice(), ads, u2, survivors, revealed);
    expect(parallel).toEqual(expected);
    expect(await unmaskSum(round, sum.slice(), ads, u2, survivors, revealed)).toEqual(expected);
  });
});
