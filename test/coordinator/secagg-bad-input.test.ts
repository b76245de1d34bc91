/**
 * Protection "secagg" (configured as a federation would be) against malformed, unknown and replayed
 * messages, and what the coordinator keeps: every refusal is specific, the round still completes
 * with the right sum, and neither the data dir nor the coordinator's log ever holds one site's
 * update, in clear or quantized.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createLogger } from '../../coordinator/logger.ts';
import { FakeSecAggSite, SECAGG_STAGES, runSecAggRound } from '../helpers/secagg-site.ts';
import { inMemoryCoordinator, openRound, send, tinyConfig, tinyFederation, type InMemoryCoordinator } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

// Distinctive values: none of them is a round number that a log line could hold by chance.
const deltaOf = (i: number) => Float32Array.from({ length: 8 }, (_, j) => 0.0137 * (i + 1) - 0.00731 * j + 0.000913 * i * i * (j + 1));

function bytesUnder(dir: string): Buffer[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? bytesUnder(path) : [readFileSync(path)];
  });
}

function expectCommittedMean(fedId: string, version: number, deltas: Float32Array[], base: Float32Array) {
  const next = c.registry.readWeights(c.registry.get(fedId, version));
  for (let j = 0; j < 8; j++) expect(next[j]).toBeCloseTo(base[j]! + deltas.reduce((s, d) => s + d[j]!, 0) / deltas.length, 5);
}

type Revealed = { owner: number; maskKey: boolean; share: Buffer };

describe('protection "secagg": bad input and what is kept', () => {
  test('unknown, duplicated, replayed and stale shares and messages are refused; the round completes with the right sum', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 5, tinyConfig({ rounds: 2, sitesPerRound: 5, minSites: 3, protection: { kind: 'secagg', neighbours: 4, threshold: 3 } }));
    const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
    await openRound(c, fed.sites);
    // Site 4 drops before masked input: its mask key is what the others reveal for it.
    await runSecAggRound(c, sites, [4, 4, 4, 4, 2], 30_000);
    expect(c.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'committed' });
    const firstRoundId = sites[0]!.ctx.plan.roundId;

    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    // A message for the round that is over.
    await expect(send(c, sites[0]!.caller, { roundId: firstRoundId, stage: 'advertise-keys', body: 'secagg', secagg: { keys: null, shares: [], revealed: [] } }))
      .rejects.toMatchObject({ code: 'DUPLICATE_SUBMISSION' });
    for (const s of sites) await s.advertise();
    for (const s of sites) await s.answer('share-keys');
    for (const s of sites.slice(0, 4)) await s.answer('masked-input');
    await c.clock.advance(30_000); // site 4's masked input never comes: the stage ends at its deadline

    const prepared = await Promise.all(sites.slice(0, 4).map((s) => s.prepare('unmask')));
    const revealedOf = (i: number): Revealed[] => {
      const m = prepared[i]!;
      if (m.body !== 'secagg') throw new Error('expected a secagg body');
      return m.secagg.revealed as Revealed[];
    };
    const withRevealed = (i: number, revealed: Revealed[]) => ({ ...prepared[i]!, secagg: { ...(prepared[i] as { secagg: object }).secagg, revealed } }) as typeof prepared[number];
    const seed = revealedOf(0).find((r) => !r.maskKey)!;
    const key = revealedOf(0).find((r) => r.maskKey)!;
    expect(key).toBeDefined();
    // Unknown: the mask key of a survivor, the seed of the dropped site.
    await expect(sites[0]!.submit(withRevealed(0, [{ ...seed, maskKey: true }]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/mask key was not asked for/) });
    await expect(sites[0]!.submit(withRevealed(0, [{ ...key, maskKey: false }]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/self-mask seed was not asked for/) });
    // Twice the same owner, and a share of the wrong length.
    await expect(sites[0]!.submit(withRevealed(0, [seed, seed]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/two shares of site/) });
    await expect(sites[0]!.submit(withRevealed(0, [{ ...seed, share: seed.share.subarray(1) }]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/a share is 33 bytes/) });
    await sites[0]!.submit(prepared[0]!);
    // Site 1 replays site 0's share of the dropped site's key as its own.
    const replayed = revealedOf(1).map((r) => (r.maskKey && r.owner === key.owner ? key : r));
    await expect(sites[1]!.submit(withRevealed(1, replayed))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/replayed share/) });
    for (let i = 1; i < 4; i++) await sites[i]!.submit(prepared[i]!);
    const [, second] = c.rounds.listRounds(fed.id);
    expect(second!.state).toBe('committed');
    expect([...second!.submittedSites].sort()).toEqual(fed.sites.slice(0, 4).map((s) => s.siteId).sort());
    const base = c.registry.readWeights(c.registry.get(fed.id, 1));
    expectCommittedMean(fed.id, 2, sites.slice(0, 4).map((s) => s.delta), base);
  });

  test('nothing the coordinator stores or logs holds one site\'s update, as float32, decimal text or quantized', async () => {
    const lines: string[] = [];
    c = await inMemoryCoordinator({ log: createLogger({ component: 'coordinator', level: 'debug', sink: (line) => lines.push(line) }) });
    const n = 5;
    const fed = await tinyFederation(c, n, tinyConfig({ sitesPerRound: n, minSites: 3, protection: { kind: 'secagg', clipNorm: 1 } }));
    const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
    await openRound(c, fed.sites);
    await runSecAggRound(c, sites, [4, 4, 4, 4, 4]);
    expect(c.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'committed', stage: SECAGG_STAGES[3] });
    expectCommittedMean(fed.id, 1, sites.map((s) => s.delta), new Float32Array(8));
    expect(lines.length).toBeGreaterThan(0);
    const log = lines.join('\n');
    const scale = ((2 ** 31 - 1) / n - 1) / 1;
    const files = bytesUnder(c.store.dataDir);
    for (const { delta } of sites) {
      const asFloat = Buffer.from(delta.buffer, delta.byteOffset, delta.byteLength);
      const quantized = [Math.floor, Math.ceil].flatMap((r0) => [Math.floor, Math.ceil].map((r1) => Buffer.from(Uint32Array.of(r0(delta[0]! * scale) >>> 0, r1(delta[1]! * scale) >>> 0).buffer)));
      for (const file of files) {
        expect(file.includes(asFloat.subarray(0, 8))).toBe(false);
        for (const q of quantized) expect(file.includes(q)).toBe(false);
      }
      for (const v of delta) {
        expect(log).not.toContain(v.toPrecision(6));
        expect(log).not.toContain(String(Math.round(v * scale)));
      }
    }
  });
});
