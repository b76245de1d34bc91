import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { maskInput, revealShares, setupRound, unmaskSum, addInto, type Revealed } from '../../crypto/secagg/index.ts';
import { keyedRound } from '../../crypto/secagg/keyed-round.fixture.ts';
import { MaskExpansionPool } from '../../crypto/parallel/mask-expansion-pool.ts';
import { unmaskSumParallel } from './mask-expansion-pool.ts';

const pool = new MaskExpansionPool(1);
afterAll(() => pool.close());

describe('unmaskSumParallel', () => {
  it('equals unmaskSum on a round with dropouts', async () => {
    const n = 8;
    const length = 2 * 65536 + 3;
    const round = setupRound({ roundId: 'pool', n, k: 6, t: 3, graphSeed: randomBytes(32), length });
    const { secrets, ads, inbox } = await keyedRound(round);
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
