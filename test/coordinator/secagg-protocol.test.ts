/**
 * Protection "secagg" on the stage pipeline, without sockets or tfjs: the coordinator core on a
 * manual clock, sites that are real Participants (injected trainer, in-memory transport) or fake
 * sites driving the SDK's site protocol by hand to drop out at a chosen stage.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Participant } from '../../client-sdk/participant.ts';
import { secureAggregation as siteSecAgg } from '../../client-sdk/protection/secagg.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import { secureAggregation, type SecAggOptions } from '../../coordinator/protection/secagg.ts';
import { FakeSecAggSite, SECAGG_STAGES, runSecAggRound } from '../helpers/secagg-site.ts';
import { runParticipants, fixedTrainer, inMemoryCoordinator, openRound, poll, send, tinyConfig, tinyFederation, type InMemoryCoordinator, inMemoryTransport } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

/** The module under "none", with options of the test's own (a secagg federation's config would override them). */
async function coordinatorWith(options: SecAggOptions, watch?: (tensor: Uint32Array) => void) {
  const protocol = secureAggregation(options);
  if (watch) {
    const masked = protocol.stages[2]!;
    (protocol.stages as Array<typeof masked>)[2] = { ...masked, accept: (s, ctx, m) => { watch(Uint32Array.from(m.tensor as Uint32Array)); masked.accept(s, ctx, m); } };
  }
  return inMemoryCoordinator({ protocols: new Map([['none', protocol as ProtectionProtocol<never>]]) });
}

// Not affine in i: with an odd number of sites the mean of affine deltas IS the middle site's delta,
// and the committed model would then "contain" that site's update by coincidence.
const deltaOf = (i: number) => Float32Array.from({ length: 8 }, (_, j) => (i + 1) * 0.5 - j * 0.25 + i * i * 0.01);

function bytesUnder(dir: string): Buffer[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? bytesUnder(path) : [readFileSync(path)];
  });
}

function expectModelIsMeanOf(fedId: string, deltas: Float32Array[]) {
  const next = c.registry.readWeights(c.registry.get(fedId, 1));
  for (let j = 0; j < 8; j++) {
    const mean = deltas.reduce((s, d) => s + d[j]!, 0) / deltas.length;
    expect(next[j]).toBeCloseTo(mean, 4);
  }
}

describe('protection "secagg" end to end', () => {
  test('real Participants complete all four stages; the model moves by the mean, and no single update is seen or stored', async () => {
    const seen: Uint32Array[] = [];
    c = await coordinatorWith({ dropoutRate: 0.1, colluders: 0, clip: 100 }, (t) => seen.push(t));
    const n = 5;
    const fed = await tinyFederation(c, n, tinyConfig({ sitesPerRound: n, minSites: 3 }));
    const deltas = fed.sites.map((_, i) => deltaOf(i));
    const events = await runParticipants(c, fed.sites.map((site, i) => new Participant({ transport: inMemoryTransport(c, site), trainer: fixedTrainer(deltas[i]!), pollWaitMs: 20 })));
    for (const siteEvents of events) {
      expect(siteEvents.filter((e) => e.type === 'stage-sent').map((e) => (e as { stage: string }).stage)).toEqual(['share-keys', 'masked-input', 'unmask']);
    }
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed', stage: 'unmask' });
    expectModelIsMeanOf(fed.id, deltas);

    // What reached the coordinator: n masked vectors, none close to a site's quantized update.
    const plan = seen.length;
    expect(plan).toBe(n);
    const scale = ((2 ** 31 - 1) / n - 1) / 100;
    for (const [i, d] of deltas.entries()) {
      const quantized = Array.from(d, (v) => Math.round(v * scale));
      for (const y of seen) {
        const near = quantized.filter((q, j) => Math.abs((y[j]! | 0) - q) <= 1).length;
        expect(near, `site ${i}'s update in a masked vector`).toBeLessThan(2);
      }
      // Nothing stored holds the update either, as float32 or as its quantized residues.
      const asFloat = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      for (const file of bytesUnder(c.store.dataDir)) {
        expect(file.includes(asFloat.subarray(0, 16))).toBe(false);
        for (const q0 of [Math.floor(d[0]! * scale), Math.ceil(d[0]! * scale)]) {
          for (const q1 of [Math.floor(d[1]! * scale), Math.ceil(d[1]! * scale)]) {
            expect(file.includes(Buffer.from(Uint32Array.of(q0 >>> 0, q1 >>> 0).buffer))).toBe(false);
          }
        }
      }
    }
  });

  test('a site drops at each stage: the round completes with the sum of those whose masked input arrived', async () => {
    c = await coordinatorWith({ dropoutRate: 0.3, colluders: 0, clip: 100, neighbours: { k: 7, t: 3 } });
    const fed = await tinyFederation(c, 8, tinyConfig({ sitesPerRound: 8, minSites: 3 }));
    const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
    await openRound(c, fed.sites);
    // Site 0 never advertises, 1 stops before share-keys, 2 before masked-input, 3 before unmask.
    await runSecAggRound(c, sites, [0, 1, 2, 3, 4, 4, 4, 4]);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round!.abortReason ?? null).toBeNull();
    expect(round).toMatchObject({ state: 'committed' });
    expectModelIsMeanOf(fed.id, [3, 4, 5, 6, 7].map((i) => sites[i]!.delta));
    const log = c.rounds.stageLog(round!.id);
    expect(log.map((l) => [l.stage, l.dropped])).toEqual(SECAGG_STAGES.map((stage, i) => [stage, [fed.sites[i]!.siteId]]));
  });

  test('too few survivors at unmask, or at advertise, aborts the round with the reason and writes no version', async () => {
    c = await coordinatorWith({ dropoutRate: 0.3, colluders: 0, clip: 100, neighbours: { k: 4, t: 3 } });
    const fed = await tinyFederation(c, 5, tinyConfig({ sitesPerRound: 5, minSites: 2, rounds: 2 }));
    const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
    await openRound(c, fed.sites);
    await runSecAggRound(c, sites, [3, 3, 3, 4, 4]);
    const [first] = c.rounds.listRounds(fed.id);
    expect(first!.state).toBe('aborted');
    expect(first!.abortReason).toMatch(/^secagg unmask: .*3 needed/);
    expect(c.registry.latestVersion(fed.id)).toBe(0);

    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    await sites[0]!.advertise();
    await sites[1]!.advertise();
    await c.clock.advance(1000);
    const second = c.rounds.listRounds(fed.id).find((r) => r.id !== first!.id)!;
    expect(second).toMatchObject({ state: 'aborted' });
    expect(second.abortReason).toMatch(/^secagg advertise-keys: 0 sites can go on, at least 3 needed/);
  });

  test('bad messages are refused with a specific error, and the round still completes correctly', async () => {
    c = await coordinatorWith({ dropoutRate: 0.3, colluders: 0, clip: 100, neighbours: { k: 2, t: 2 } });
    const fed = await tinyFederation(c, 6, tinyConfig({ sitesPerRound: 6, minSites: 3 }));
    const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    const roundId = sites[0]!.ctx.plan.roundId;
    // Out of order, and for another round.
    const early = { roundId, stage: 'masked-input', body: 'secagg' as const, secagg: { keys: null, shares: [], revealed: [] } };
    await expect(send(c, sites[0]!.caller, early)).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
    await expect(send(c, sites[0]!.caller, { ...early, roundId: 'no-such-round', stage: 'advertise-keys' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(send(c, sites[0]!.caller, { roundId, stage: 'advertise-keys', body: 'secagg', secagg: { keys: { encryptionPublicKey: Buffer.alloc(3), maskPublicKey: Buffer.alloc(32), seedCommitment: Buffer.alloc(32), identityPublicKey: Buffer.alloc(32), signature: Buffer.alloc(64) }, shares: [], revealed: [] } }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const advertisement = await siteSecAgg.first(sites[0]!.ctx, { delta: sites[0]!.delta, numExamples: 0, trainLoss: 0, trainAccuracy: 0, unclipped: true });
    await sites[0]!.submit(advertisement);
    await expect(sites[0]!.submit(advertisement)).rejects.toMatchObject({ code: 'DUPLICATE_SUBMISSION' });
    // A site keeps one set of keys per round.
    await expect(sites[0]!.advertise()).rejects.toThrow(/already advertised/);
    for (const s of sites.slice(1)) await s.advertise();

    // share-keys: a forged sender, a share to a non-neighbour, then the honest message.
    const honest = await sites[0]!.prepare('share-keys');
    if (honest.body !== 'secagg') throw new Error('expected a secagg body');
    const self = honest.secagg.shares[0]!.from;
    const forged = { ...honest, secagg: { ...honest.secagg, shares: honest.secagg.shares.map((s) => ({ ...s, from: (self + 1) % 6 })) } };
    await expect(sites[0]!.submit(forged)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/claims to be from site/) });
    const neighbours = new Set(honest.secagg.shares.map((s) => s.to));
    const stranger = [0, 1, 2, 3, 4, 5].find((j) => j !== self && !neighbours.has(j))!;
    const misdirected = { ...honest, secagg: { ...honest.secagg, shares: [{ ...honest.secagg.shares[0]!, to: stranger }, honest.secagg.shares[1]!] } };
    await expect(sites[0]!.submit(misdirected)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not a neighbour/) });
    await sites[0]!.submit(honest);
    await expect(sites[0]!.submit(honest)).rejects.toMatchObject({ code: 'DUPLICATE_SUBMISSION' });
    for (const s of sites.slice(1)) await s.answer('share-keys');

    // masked-input: a vector of the wrong length, then the right one.
    const masked = await sites[0]!.prepare('masked-input');
    const short = { ...masked, tensor: { layout: [{ name: 'secagg/masked', shape: [8], dtype: 'uint32' as const }], values: new Uint32Array(8) } };
    await expect(sites[0]!.submit(short)).rejects.toMatchObject({ code: 'LAYOUT_MISMATCH' });
    await sites[0]!.submit(masked);
    for (const s of sites.slice(1)) await s.answer('masked-input');

    // unmask: a share of a site that is not the sender's neighbour is refused.
    const reveal = await sites[0]!.prepare('unmask');
    if (reveal.body !== 'secagg') throw new Error('expected a secagg body');
    const smuggled = { ...reveal, secagg: { ...reveal.secagg, revealed: [{ owner: stranger, maskKey: false, share: Buffer.alloc(33) }, ...reveal.secagg.revealed.slice(1)] } };
    await expect(sites[0]!.submit(smuggled)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not a neighbour/) });
    await sites[0]!.submit(reveal);
    for (const s of sites.slice(1)) await s.answer('unmask');
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed' });
    expectModelIsMeanOf(fed.id, sites.map((s) => s.delta));
  });

  test('an honest site refuses to reveal both shares of one site, and a second unmask request', async () => {
    c = await coordinatorWith({ dropoutRate: 0.3, colluders: 0, clip: 100, neighbours: { k: 3, t: 2 } });
    const fed = await tinyFederation(c, 4, tinyConfig({ sitesPerRound: 4, minSites: 2 }));
    const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    for (const s of sites) await s.advertise();
    for (const s of sites) await s.answer('share-keys');
    for (const s of sites) await s.answer('masked-input');
    const task = await poll(c, sites[0]!.caller);
    if (task.task !== 'stage' || task.stage.body !== 'secagg') throw new Error('expected the unmask task');
    const unmaskTask = task.stage.secagg;
    const victim = unmaskTask.survivors.find((i) => i !== unmaskTask.selfIndex)!;
    const both = { ...task.stage, secagg: { ...unmaskTask, dropped: [victim] } };
    await expect(siteSecAgg.stage(sites[0]!.ctx, both)).rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/both shares/) });
    await siteSecAgg.stage(sites[0]!.ctx, task.stage);
    await expect(siteSecAgg.stage(sites[0]!.ctx, task.stage)).rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/already answered/) });
  });
});
