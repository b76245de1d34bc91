/**
 * Issue 13: a site's FedAvg weight is capped by the example count it declared at enrolment, and
 * each round reports what the coordinator's bounds did to its updates (clipped to the norm bound,
 * weight capped, refused), kept with the round after it closes.
 */
import { afterEach, expect, test } from 'vitest';
import { noneProtocol } from '../../coordinator/protection/none.ts';
import { DEFAULT_UPDATE_LIMITS } from '../../coordinator/limits.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import type { SiteCaller } from '../../coordinator/participant-endpoint.ts';
import {
  TINY_LAYOUT, TINY_TOPOLOGY, inMemoryCoordinator, openRound, poll, send, sendUpdate, settle, tinyConfig, type InMemoryCoordinator,
} from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

const fill = (x: number) => new Float32Array(8).fill(x);
const maxAbs = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

async function federation(declared: Array<number | null>, rounds = 2): Promise<{ id: string; sites: SiteCaller[] }> {
  const fed = await c.federations.create(tinyConfig({ rounds, sitesPerRound: declared.length, minSites: 1 }), { topologyJson: TINY_TOPOLOGY, layout: TINY_LAYOUT, values: new Float32Array(8) });
  const sites: SiteCaller[] = [];
  for (const [i, max] of declared.entries()) {
    const { siteId } = await c.federations.enrollSite(fed.id, `site-${i}`, 0, { budgetEpsilon: null, sampleRate: null }, max);
    sites.push({ siteId, federationId: fed.id });
  }
  c.federations.start(fed.id);
  return { id: fed.id, sites };
}

async function roundIds(sites: SiteCaller[]): Promise<string[]> {
  await openRound(c, sites);
  return Promise.all(sites.map(async (s) => {
    const task = await poll(c, s);
    if (task.task !== 'round') throw new Error('expected a round plan');
    return task.round.roundId;
  }));
}

async function latest(federationId: string): Promise<Float32Array> {
  return c.registry.readWeights(c.registry.get(federationId, c.registry.latestVersion(federationId)!));
}

test('a site enrolled with --max-examples 2000 that claims 1e9 with Δ = −w weighs as 2000, and the round counts one capped weight', async () => {
  c = await inMemoryCoordinator();
  const fed = await federation([2000, 2000, 2000]);
  let ids = await roundIds(fed.sites);
  for (const [i, s] of fed.sites.entries()) await sendUpdate(c, s, ids[i]!, fill(0.2), 2000);
  const w = await latest(fed.id);
  ids = await roundIds(fed.sites);
  await sendUpdate(c, fed.sites[0]!, ids[0]!, fill(0), 2000);
  await sendUpdate(c, fed.sites[1]!, ids[1]!, fill(0), 2000);
  await sendUpdate(c, fed.sites[2]!, ids[2]!, Float32Array.from(w, (x) => -x), 1_000_000_000);
  const rounds = c.rounds.listRounds(fed.id);
  expect(rounds.map((r) => r.state)).toEqual(['committed', 'committed']);
  // Under the coordinator's cap alone (1e6) the attacker would be 99.6% of the weight: 0.2 → 8e-4.
  expect(maxAbs(await latest(fed.id))).toBeCloseTo(0.2 * 2 / 3, 5);
  expect(rounds.map((r) => r.bounds)).toEqual([{ clipped: 0, capped: 0, refused: 0 }, { clipped: 0, capped: 1, refused: 0 }]);
  // A claim within the declaration is taken as it is: the committed round's examples are 2000 · 3.
  expect(rounds[1]!.totalExamples).toBe(6000);
});

test('a site that declared nothing is capped by the coordinator\'s own cap; one that declared less than it claims only by its declaration', async () => {
  c = await inMemoryCoordinator({ protocols: new Map([['none', noneProtocol({ ...DEFAULT_UPDATE_LIMITS, maxExamplesPerUpdate: 100 }) as ProtectionProtocol<never>]]) });
  const fed = await federation([null, 50], 1);
  const ids = await roundIds(fed.sites);
  await sendUpdate(c, fed.sites[0]!, ids[0]!, fill(1), 1_000);
  await sendUpdate(c, fed.sites[1]!, ids[1]!, fill(-1), 80);
  const [round] = c.rounds.listRounds(fed.id);
  expect(round!.state).toBe('committed');
  expect(round!.totalExamples).toBe(150);
  expect(round!.bounds).toEqual({ clipped: 0, capped: 2, refused: 0 });
  // (100·1 + 50·(−1)) / 150
  expect((await latest(fed.id))[0]).toBeCloseTo(1 / 3, 6);
});

test('clipped and refused updates are counted per round and kept in the store after the round closes', async () => {
  c = await inMemoryCoordinator({ protocols: new Map([['none', noneProtocol({ ...DEFAULT_UPDATE_LIMITS, overNorm: 'refuse', updateNormBound: 10 }) as ProtectionProtocol<never>]]) });
  const fed = await federation([null, null, null], 1);
  const ids = await roundIds(fed.sites);
  await expect(sendUpdate(c, fed.sites[0]!, ids[0]!, fill(3.4e38), 10)).rejects.toMatchObject({ code: 'UPDATE_REFUSED' });
  await expect(send(c, fed.sites[1]!, { roundId: ids[1]!, stage: 'submit', body: 'update', update: { numExamples: 10, trainLoss: 0, trainAccuracy: 2, unclipped: false } },
    { layout: TINY_LAYOUT, values: fill(0) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  await sendUpdate(c, fed.sites[2]!, ids[2]!, fill(1), 10);
  expect(c.rounds.listRounds(fed.id)[0]!.bounds).toEqual({ clipped: 0, capped: 0, refused: 2 });
  await c.clock.advance(2000);
  await settle();
  const stored = c.rounds.rounds.get(ids[0]!)!;
  expect(stored.state).toBe('committed');
  expect(stored.bounds).toEqual({ clipped: 0, capped: 0, refused: 2 });
});

test('an over-norm update is clipped and counted under overNorm "clip"', async () => {
  c = await inMemoryCoordinator({ protocols: new Map([['none', noneProtocol({ ...DEFAULT_UPDATE_LIMITS, overNorm: 'clip' }) as ProtectionProtocol<never>]]) });
  const fed = await federation([null, null], 1);
  const ids = await roundIds(fed.sites);
  await sendUpdate(c, fed.sites[0]!, ids[0]!, fill(3.4e38), 10);
  await sendUpdate(c, fed.sites[1]!, ids[1]!, fill(0), 10);
  expect(c.rounds.rounds.get(ids[0]!)!.bounds).toEqual({ clipped: 1, capped: 0, refused: 0 });
});

test('a declared example count must be an integer in [1, 1e9]', async () => {
  c = await inMemoryCoordinator();
  const fed = await c.federations.create(tinyConfig(), { topologyJson: TINY_TOPOLOGY, layout: TINY_LAYOUT, values: new Float32Array(8) });
  for (const bad of [0, 0.5, -3, 1e9 + 1, Number.NaN]) {
    await expect(c.federations.enrollSite(fed.id, `s-${String(bad)}`.replace(/[^\w.-]/g, '_'), 0, undefined, bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/declared example count/) });
  }
  await expect(c.federations.enrollSite(fed.id, 'ok', 0, undefined, 1e9)).resolves.toMatchObject({ siteId: expect.any(String) });
});
