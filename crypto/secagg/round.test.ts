import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import {
  SecAggError, addInto, advertise, maskInput, missingShares, placeSite, revealShares, setupRound, shareKeys, unmaskSum,
  type Advertisement, type Revealed, type Round, type SiteSecrets,
} from './index.ts';

/** The stage after which a site goes silent (4 = never). */
type DropAt = 0 | 1 | 2 | 3 | 4;

interface Outcome { completed: boolean; result?: Uint32Array; expected: Uint32Array; u3: number[]; reason?: string }

/**
 * One round with honest sites and an honest-but-curious coordinator that relays everything. A site
 * that cannot go on (fewer than t live neighbours) drops out, as the protocol module makes it.
 */
async function simulate(round: Round, inputs: Uint32Array[], dropAt: DropAt[]): Promise<Outcome> {
  const n = round.n;
  const secrets = new Map<number, SiteSecrets>();
  const ads = new Map<number, Advertisement>();
  for (let i = 0; i < n; i++) {
    const a = advertise();
    placeSite(round, a.secrets, i);
    if (dropAt[i]! <= 0) continue;
    secrets.set(i, a.secrets);
    ads.set(i, a.advertisement);
  }
  const sealedTo = new Map<number, Map<number, Uint8Array>>();
  const u2 = new Set<number>();
  for (const [i, s] of secrets) {
    const mine = new Map([...ads].filter(([j]) => round.graph.neighbours[i]!.includes(j)));
    let out: Map<number, Uint8Array>;
    try { out = await shareKeys(round, s, mine); } catch (e) {
      if ((e as SecAggError).code !== 'SECAGG_TOO_FEW_SURVIVORS') throw e;
      continue;
    }
    if (dropAt[i]! <= 1) continue;
    u2.add(i);
    for (const [j, c] of out) {
      if (!sealedTo.has(j)) sealedTo.set(j, new Map());
      sealedTo.get(j)!.set(i, c);
    }
  }
  const sum = new Uint32Array(round.length);
  const expected = new Uint32Array(round.length);
  const u3: number[] = [];
  for (const i of u2) {
    const inbox = new Map([...(sealedTo.get(i) ?? new Map<number, Uint8Array>())].filter(([from]) => u2.has(from)));
    let y: Uint32Array;
    try { y = maskInput(round, secrets.get(i)!, ads, inbox, inputs[i]!); } catch (e) {
      if ((e as SecAggError).code !== 'SECAGG_TOO_FEW_SURVIVORS') throw e;
      continue;
    }
    if (dropAt[i]! <= 2) continue;
    u3.push(i);
    addInto(sum, y);
    addInto(expected, inputs[i]!);
  }
  u3.sort((a, b) => a - b);
  const dropped = [...u2].filter((i) => !u3.includes(i));
  const revealed = new Map<number, Revealed>();
  for (const i of u3) {
    let r: Revealed;
    try { r = revealShares(round, secrets.get(i)!, { survivors: u3, dropped }); } catch (e) {
      if ((e as SecAggError).code !== 'SECAGG_REFUSED') throw e;
      continue;
    }
    if (dropAt[i]! <= 3) continue;
    revealed.set(i, r);
  }
  try {
    const result = await unmaskSum(round, sum, ads, u2, u3, revealed);
    return { completed: true, result, expected, u3 };
  } catch (e) {
    if ((e as SecAggError).code !== 'SECAGG_TOO_FEW_SURVIVORS') throw e;
    return { completed: false, expected, u3, reason: (e as Error).message };
  }
}

const schedule = fc.integer({ min: 3, max: 9 }).chain((n) => fc.record({
  n: fc.constant(n),
  k: fc.integer({ min: 2, max: n - 1 }).filter((k) => !(k % 2 === 1 && n % 2 === 1)),
  tFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  length: fc.integer({ min: 1, max: 40 }),
  dropAt: fc.array(fc.constantFrom<DropAt>(0, 1, 2, 3, 4, 4, 4, 4), { minLength: n, maxLength: n }),
  seed: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  inputs: fc.array(fc.uint32Array({ minLength: 40, maxLength: 40 }), { minLength: n, maxLength: n }),
}));

describe('SecAgg+ round (pure maths)', () => {
  it('the unmasked result is exactly the modular sum of the survivors\' inputs, or the round aborts for want of t shares', async () => {
    let completed = 0;
    let aborted = 0;
    await fc.assert(fc.asyncProperty(schedule, async (s) => {
      const t = 2 + Math.floor(s.tFraction * (s.k - 1.0001));
      const round = setupRound({ roundId: 'r', n: s.n, k: s.k, t, graphSeed: s.seed, length: s.length });
      const inputs = s.inputs.map((v) => v.slice(0, s.length));
      const out = await simulate(round, inputs, s.dropAt);
      if (out.completed) {
        completed++;
        expect(out.u3.length).toBeGreaterThanOrEqual(t);
        expect(Array.from(out.result!)).toEqual(Array.from(out.expected));
      } else {
        aborted++;
        // An abort must be justified: a survivor or a dropped partner whose secret lacks t live holders.
        expect(out.reason).toMatch(/needed|fewer than t/);
      }
    }), { numRuns: 1000 });
    // The generator must exercise both outcomes, or the property above proves little.
    expect(completed).toBeGreaterThan(100);
    expect(aborted).toBeGreaterThan(50);
  }, 300_000);

  it('completes with no dropouts on sparse graphs of every shape tried', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 4, max: 14 }), fc.integer({ min: 1, max: 30 }), async (n, length) => {
      const k = n % 2 === 0 ? 3 : 2;
      const round = setupRound({ roundId: 'x', n, k, t: 2, graphSeed: randomBytes(32), length });
      const inputs = Array.from({ length: n }, () => new Uint32Array(randomBytes(4 * length).buffer));
      const out = await simulate(round, inputs, Array(n).fill(4));
      expect(out.completed).toBe(true);
      expect(Array.from(out.result!)).toEqual(Array.from(out.expected));
    }), { numRuns: 50 });
  });
});

async function threeStages(n = 5, k = 4, t = 3) {
  const round = setupRound({ roundId: 'round-1', n, k, t, graphSeed: randomBytes(32), length: 8 });
  const sites = Array.from({ length: n }, (_, i) => {
    const a = advertise();
    placeSite(round, a.secrets, i);
    return a;
  });
  const ads = new Map(sites.map((s, i) => [i, s.advertisement]));
  const sealed = await Promise.all(sites.map((s, i) => shareKeys(round, s.secrets, new Map([...ads].filter(([j]) => round.graph.neighbours[i]!.includes(j))))));
  const inbox = (i: number) => new Map(sealed.flatMap((m, from) => (m.has(i) ? [[from, m.get(i)!] as const] : [])));
  return { round, sites, ads, sealed, inbox };
}

describe('an honest site', () => {
  it('refuses to reveal both shares of one site, a second request, and a request with fewer than t survivors', async () => {
    const { round, sites, ads, inbox } = await threeStages();
    for (let i = 0; i < 5; i++) maskInput(round, sites[i]!.secrets, ads, inbox(i), new Uint32Array(8));
    const both = () => revealShares(round, sites[0]!.secrets, { survivors: [0, 1, 2, 3], dropped: [3, 4] });
    expect(both).toThrow(/both shares of site 3/);
    expect(() => revealShares(round, sites[0]!.secrets, { survivors: [0, 1], dropped: [2, 3, 4] })).toThrow(/fewer than t/);
    revealShares(round, sites[0]!.secrets, { survivors: [0, 1, 2, 3], dropped: [4] });
    // The split attack: ask again with site 4 now "surviving" to get its self-mask shares too.
    expect(() => revealShares(round, sites[0]!.secrets, { survivors: [0, 1, 2, 3, 4], dropped: [] })).toThrow(/already answered/);
  });

  it('refuses shares from a non-neighbour, a tampered or misaddressed share, and a masked input of the wrong length', async () => {
    const { round, sites, ads, sealed, inbox } = await threeStages(7, 2, 2);
    const me = 0;
    const stranger = [...Array(7).keys()].find((j) => j !== me && !round.graph.neighbours[me]!.includes(j))!;
    const withStranger = new Map(inbox(me));
    withStranger.set(stranger, sealed[stranger]!.values().next().value!);
    expect(() => maskInput(round, sites[me]!.secrets, ads, withStranger, new Uint32Array(8))).toThrow(expect.objectContaining({ code: 'SECAGG_NOT_NEIGHBOUR' }));
    const tampered = new Map(inbox(me));
    const [from, c] = [...tampered][0]!;
    const bad = c.slice();
    bad[20] = bad[20]! ^ 1;
    tampered.set(from, bad);
    expect(() => maskInput(round, sites[me]!.secrets, ads, tampered, new Uint32Array(8))).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_SHARE' }));
    // A share sealed for another recipient, replayed to this one.
    const other = round.graph.neighbours[from]!.find((j) => j !== me)!;
    const misaddressed = new Map(inbox(me));
    misaddressed.set(from, sealed[from]!.get(other)!);
    expect(() => maskInput(round, sites[me]!.secrets, ads, misaddressed, new Uint32Array(8))).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_SHARE' }));
    expect(() => maskInput(round, sites[me]!.secrets, ads, inbox(me), new Uint32Array(9))).toThrow(/9 elements/);
  });

  it('the coordinator refuses a replayed share and a share set that does not match the commitment', async () => {
    const { round, sites, ads, inbox } = await threeStages();
    const ys = sites.map((s, i) => maskInput(round, s.secrets, ads, inbox(i), new Uint32Array(8).fill(i)));
    const sum = new Uint32Array(8);
    ys.forEach((y) => addInto(sum, y));
    const all = [0, 1, 2, 3, 4];
    const revealed = new Map(all.map((i) => [i, revealShares(round, sites[i]!.secrets, { survivors: all, dropped: [] })]));
    const forged = new Map(revealed);
    const victim = 2;
    const holders = round.graph.neighbours[victim]!;
    // Every holder replays the same share: t copies of one point.
    const one = revealed.get(holders[0]!)!.seedShares.get(victim)!;
    for (const h of holders) forged.set(h, { seedShares: new Map([...revealed.get(h)!.seedShares, [victim, one]]), keyShares: new Map() });
    await expect(unmaskSum(round, sum.slice(), ads, new Set(all), all, forged)).rejects.toMatchObject({ code: 'SECAGG_BAD_SHARE' });
    const corrupt = new Map(revealed);
    for (const h of holders) {
      const s = revealed.get(h)!.seedShares.get(victim)!.slice();
      s[0] = s[0]! ^ 0xff;
      corrupt.set(h, { seedShares: new Map([...revealed.get(h)!.seedShares, [victim, s]]), keyShares: new Map() });
    }
    await expect(unmaskSum(round, sum.slice(), ads, new Set(all), all, corrupt)).rejects.toMatchObject({ code: 'SECAGG_BAD_SHARE' });
    const ok = await unmaskSum(round, sum.slice(), ads, new Set(all), all, revealed);
    expect(Array.from(ok)).toEqual(Array(8).fill(10));
    expect(missingShares(round, new Set(all), all, new Set([0]))).toMatch(/needed/);
  });
});
