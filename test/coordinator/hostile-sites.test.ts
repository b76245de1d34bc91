/**
 * Issue 13: one enrolled site must never break a federation. Each finding is reproduced against
 * the coordinator core (in-memory transport, manual clock): the attack as the issue measured it,
 * and what the federation looks like afterwards.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { chunksOf, makeHeader, type RoundPlanMsg, type StageHeaderMsg, type StageStreamMsg } from '../../protocols/index.ts';
import { ParticipantEndpoint } from '../../coordinator/participant-endpoint.ts';
import { noneProtocol } from '../../coordinator/protection/none.ts';
import { DEFAULT_UPDATE_LIMITS, TokenLimiter } from '../../coordinator/limits.ts';
import { parseFederationConfig } from '../../coordinator/federation-config.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import type { SumAggregation } from '../../coordinator/aggregation/aggregator.ts';
import type { SiteCaller } from '../../coordinator/participant-endpoint.ts';
import { until } from '../helpers/wait.ts';
import {
  TINY_LAYOUT, inMemoryCoordinator, openRound, poll, send, sendUpdate, settle, tinyConfig, tinyFederation, type InMemoryCoordinator,
} from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

const FLOAT32_MAX = 3.4028234663852886e38;
const fill = (x: number) => new Float32Array(8).fill(x);
const maxAbs = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

async function planOf(site: SiteCaller): Promise<RoundPlanMsg> {
  // A DP round's plan goes out once its site-release charge is signed, which may take a few turns.
  for (let i = 0; i < 50; i++) {
    const task = await poll(c, site);
    if (task.task === 'round') return task.round;
    await settle();
  }
  throw new Error('expected a round plan');
}

async function latest(federationId: string): Promise<Float32Array> {
  return c.registry.readWeights(c.registry.get(federationId, c.registry.latestVersion(federationId)!));
}

/** A stream that sends the header and one chunk, then stalls until `resume()`; `end()` finishes it. */
function stalledUpload(roundId: string, values: Float32Array, numExamples = 10) {
  const header = { roundId, stage: 'submit', body: 'update', update: { numExamples, trainLoss: 0, trainAccuracy: 0, unclipped: false }, tensor: makeHeader(TINY_LAYOUT, values) } as StageHeaderMsg;
  const chunks = [...chunksOf(values)];
  let resume!: () => void;
  const gate = new Promise<void>((r) => { resume = r; });
  async function* messages(): AsyncGenerator<StageStreamMsg> {
    yield { part: 'header', header };
    await gate;
    for (const chunk of chunks) yield { part: 'chunk', chunk };
  }
  return { messages: messages(), resume };
}

describe('finding 1: poisoning by weight', () => {
  test('a site claiming 1e9 examples with Δ = −w is weighted no more than the cap', async () => {
    // The coordinator-wide cap (--max-examples-per-update); a site's own enrolment declaration is tested in weight-caps.test.ts.
    c = await inMemoryCoordinator({ protocols: new Map([['none', noneProtocol({ ...DEFAULT_UPDATE_LIMITS, maxExamplesPerUpdate: 2000 }) as ProtectionProtocol<never>]]) });
    const fed = await tinyFederation(c, 3, tinyConfig({ rounds: 2 }));
    await openRound(c, fed.sites);
    for (const s of fed.sites) await sendUpdate(c, s, (await planOf(s)).roundId, fill(0.2), 2000);
    const w = await latest(fed.id);
    expect(maxAbs(w)).toBeCloseTo(0.2, 6);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(0), 2000);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(0), 2000);
    await sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, Float32Array.from(w, (x) => -x), 1_000_000_000);
    expect(c.rounds.listRounds(fed.id).map((r) => r.state)).toEqual(['committed', 'committed']);
    // Uncapped, the model is wiped (max |w| 0.2 → 8e-7); capped, the attacker is one site of three.
    expect(maxAbs(await latest(fed.id))).toBeCloseTo(0.2 * 2 / 3, 5);
  });

  test('the default cap bounds what any declaration can buy', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2 }));
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(1), DEFAULT_UPDATE_LIMITS.maxExamplesPerUpdate);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(-1), 1_000_000_000);
    expect(c.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'committed', totalExamples: 2 * DEFAULT_UPDATE_LIMITS.maxExamplesPerUpdate });
    expect(maxAbs(await latest(fed.id))).toBe(0);
  });
});

describe('finding 2: poisoning by size', () => {
  test('with overNorm "clip", Δ = 3.4e38 for two rounds leaves a finite model moved by at most the bound, and honest sites go on', async () => {
    c = await inMemoryCoordinator({ protocols: new Map([['none', noneProtocol({ ...DEFAULT_UPDATE_LIMITS, overNorm: 'clip' }) as ProtectionProtocol<never>]]) });
    const fed = await tinyFederation(c, 3, tinyConfig({ rounds: 3 }));
    for (let round = 0; round < 2; round++) {
      await openRound(c, fed.sites);
      const plans = await Promise.all(fed.sites.map(planOf));
      await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(0.01), 10);
      await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(0.01), 10);
      // Uncapped and unbounded this weighs 0.83 of the mean: 1.7 × the largest float32 after two rounds is Infinity.
      await sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, fill(FLOAT32_MAX), 100);
    }
    expect(c.rounds.listRounds(fed.id).map((r) => r.state)).toEqual(['committed', 'committed']);
    const model = await latest(fed.id);
    expect(model.every(Number.isFinite)).toBe(true);
    expect(norm(model)).toBeLessThanOrEqual(2 * DEFAULT_UPDATE_LIMITS.updateNormBound);
    // The next round is planned and an honest site's update is taken.
    await openRound(c, fed.sites);
    expect((await sendUpdate(c, fed.sites[0]!, (await planOf(fed.sites[0]!)).roundId, fill(0.01), 10)).received).toBe(1);
  });

  test('under the default overNorm "refuse" an over-bound update is refused, its site leaves the round, and the round commits without it at once', async () => {
    expect(DEFAULT_UPDATE_LIMITS.overNorm).toBe('refuse');
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await expect(sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, fill(1e30), 10)).rejects.toMatchObject({ code: 'UPDATE_REFUSED' });
    // One try per round: the refused site gets no task and cannot resend.
    expect((await poll(c, fed.sites[2]!)).task).toBe('wait');
    await expect(sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, fill(0.5), 10)).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(0.5), 10);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(0.5), 10);
    // No deadline needed: the refused site is no longer expected.
    expect(c.rounds.listRounds(fed.id)[0]!.state).toBe('committed');
    expect(maxAbs(await latest(fed.id))).toBeCloseTo(0.5, 6);
  });

  test('under local DP one site sending Δ = 1e30 aborts the round instead of moving the model by 1e32', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3, tinyConfig({
      privacy: { mode: 'local', noiseMultiplier: null, localEpsilon: 2, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5 },
    }));
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(0.1), 0);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(0.1), 0);
    await sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, fill(1e30), 0);
    // The round closes once the last update is in; on a loaded machine that takes more than a few turns.
    const round = await until('the round to close', async () => c.rounds.listRounds(fed.id).find((r) => r.state === 'committed' || r.state === 'aborted'));
    expect(round!.state).toBe('aborted');
    expect(round!.abortReason).toMatch(/beyond the bound/);
    expect(c.registry.latestVersion(fed.id)).toBe(0);
  });

  test('a protocol whose unprotected sum is not finite aborts the round and publishes nothing', async () => {
    const none = noneProtocol();
    const liar: ProtectionProtocol<{ agg: SumAggregation }> = {
      name: 'none',
      plan: none.plan,
      begin: (_ctx, agg) => ({ agg: agg as SumAggregation }),
      stages: [{
        name: 'submit',
        expect: (_state, ctx, siteId, header) => none.stages[0]!.expect(null as never, ctx, siteId, header),
        accept() {},
        finish: (_state, ctx, answered, live) => none.stages[0]!.finish(null as never, ctx, answered, live),
      }],
      unprotect(state, _ctx, survivors) {
        // What a secure-aggregation sum of self-bounded updates looks like when one site lied.
        state.agg.addSum(new Float64Array(8).fill(1e300), survivors.length, survivors.length * 10);
      },
    };
    c = await inMemoryCoordinator({ protocols: new Map([['none', liar as ProtectionProtocol<never>]]) });
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2 }));
    await openRound(c, fed.sites);
    for (const s of fed.sites) await sendUpdate(c, s, (await planOf(s)).roundId, fill(0.1), 10);
    const round = await until('the round to close', async () => c.rounds.listRounds(fed.id).find((r) => r.state === 'committed' || r.state === 'aborted'));
    expect(round).toMatchObject({ state: 'aborted' });
    expect(round!.abortReason).toMatch(/commit failed: the aggregate (is not finite|has L2 norm)/);
    expect(c.registry.latestVersion(fed.id)).toBe(0);
  });
});

describe('finding 3: revocation', () => {
  test('a site revoked after sending its header is not counted when its stream completes', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    const upload = stalledUpload(plans[2]!.roundId, fill(-5));
    const pending = c.endpoint.submitStage(fed.sites[2]!, upload.messages);
    await settle();
    c.federations.revokeSite(fed.id, fed.sites[2]!.siteId);
    upload.resume();
    await expect(pending).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(1), 10);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(1), 10);
    const [round] = c.rounds.listRounds(fed.id);
    // The two honest answers end the round: the revoked site is no longer expected.
    expect(round).toMatchObject({ state: 'committed' });
    expect(round!.submittedSites).not.toContain(fed.sites[2]!.siteId);
    expect(maxAbs(await latest(fed.id))).toBeCloseTo(1, 6);
  });

  test('a selected site revoked before submitting leaves the expected set at once: the round does not wait for its deadline', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(1), 10);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(1), 10);
    expect(c.rounds.listRounds(fed.id)[0]!.state).toBe('collecting');
    c.federations.revokeSite(fed.id, fed.sites[2]!.siteId);
    c.rounds.siteRevoked(fed.id, fed.sites[2]!.siteId);
    expect((await until('the round to close', async () => c.rounds.listRounds(fed.id).find((r) => r.state === 'committed' || r.state === 'aborted'))).state).toBe('committed');
  });
});

describe('finding 4: limits on what one token costs', () => {
  test('the per-token limiter refuses a hot loop with RATE_LIMITED and lets another token through', async () => {
    const limiter = new TokenLimiter({ callsPerSecond: 5, burst: 5, concurrent: 2 });
    // Within one second: 5 sustained + 5 burst calls pass, the 11th does not.
    for (let i = 0; i < 10; i++) (await limiter.acquire('a'))();
    await expect(limiter.acquire('a')).rejects.toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/at most 5 calls\/s/) });
    // Another token is not affected.
    (await limiter.acquire('b'))();
  });

  test('the per-token limiter caps open calls, and frees the slot (and its entry) when a call ends', async () => {
    const limiter = new TokenLimiter({ callsPerSecond: 100, burst: 100, concurrent: 2 });
    const r1 = await limiter.acquire('a');
    await limiter.acquire('a');
    await expect(limiter.acquire('a')).rejects.toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/too many open calls/) });
    r1();
    r1(); // releasing twice frees one slot only
    const r3 = await limiter.acquire('a');
    await expect(limiter.acquire('a')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(limiter.openTokens).toBe(1);
    r3();
    const r4 = await limiter.acquire('b');
    r4();
    expect(limiter.openTokens).toBe(1);
  });

  test('limits out of range are refused', () => {
    expect(() => new TokenLimiter({ callsPerSecond: 0, burst: 1, concurrent: 1 })).toThrow(/rate limits must be/);
    expect(() => new TokenLimiter({ callsPerSecond: 1, burst: 1, concurrent: 1.5 })).toThrow(/rate limits must be/);
  });

  test('a stalled upload is closed at the idle deadline, and the retry is accepted', async () => {
    c = await inMemoryCoordinator();
    const endpoint = new ParticipantEndpoint({ federations: c.federations, registry: c.registry, rounds: c.rounds, streamLimits: { idleMs: 50, overallMs: 60_000 } });
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plan = await planOf(fed.sites[0]!);
    const stalled = stalledUpload(plan.roundId, fill(1));
    await expect(endpoint.submitStage(fed.sites[0]!, stalled.messages)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const retry = stalledUpload(plan.roundId, fill(1));
    retry.resume();
    expect((await endpoint.submitStage(fed.sites[0]!, retry.messages)).received).toBe(1);
  });

  test('a retry supersedes a stalled upload instead of being told "already submitted"', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plan = await planOf(fed.sites[0]!);
    // Settled-or-not is read at the end; the handler is attached now so the rejection is observed.
    const stalled = c.endpoint.submitStage(fed.sites[0]!, stalledUpload(plan.roundId, fill(1)).messages).catch((e: unknown) => { throw e; });
    stalled.catch(() => undefined);
    await settle();
    const retry = stalledUpload(plan.roundId, fill(1));
    retry.resume();
    expect((await c.endpoint.submitStage(fed.sites[0]!, retry.messages)).received).toBe(1);
    await expect(stalled).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
  });

  test('a stalled upload is cut when its round closes', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map(planOf));
    const stalled = c.endpoint.submitStage(fed.sites[2]!, stalledUpload(plans[2]!.roundId, fill(1)).messages);
    stalled.catch(() => undefined);
    await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, fill(1), 10);
    await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, fill(1), 10);
    await c.clock.advance(1000);
    expect(c.rounds.listRounds(fed.id)[0]!.state).toBe('committed');
    await expect(stalled).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
  });
});

describe('finding 5: strings and metrics', () => {
  test('a 64 KiB round id is refused with an error that does not echo it', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const err: unknown = await sendUpdate(c, fed.sites[0]!, 'x'.repeat(65_536), fill(0), 10).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((err as Error).message.length).toBeLessThan(300);
  });

  test('train accuracy 1e308 and loss −1e308 are refused, not stored', async () => {
    c = await inMemoryCoordinator();
    const fed = await tinyFederation(c, 3);
    await openRound(c, fed.sites);
    const plan = await planOf(fed.sites[0]!);
    const update = (trainLoss: number, trainAccuracy: number) => send(c, fed.sites[0]!,
      { roundId: plan.roundId, stage: 'submit', body: 'update', update: { numExamples: 10, trainLoss, trainAccuracy, unclipped: false } },
      { layout: TINY_LAYOUT, values: fill(0) });
    await expect(update(0.5, 1e308)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(update(-1e308, 0.5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await update(0.5, 0.9)).received).toBe(1);
  });
});

describe('finding 6: config sanity', () => {
  const dp = (over: Record<string, unknown>) => tinyConfig({
    sitesPerRound: 3, minSites: 2,
    privacy: { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5, ...over } as never,
  });
  test.each([
    ['δ = 0.999', { delta: 0.999 }, /privacy\.delta: must be at most 1e-3/],
    ['(accepted) δ = 1e-3 with 3 sites per round', { delta: 1e-3 }, null],
    ['sample rate 1e-300', { sampleRate: 1e-300 }, /privacy\.sampleRate: must be at least 1e-6/],
    ['budget 1e-300', { budgetEpsilon: 1e-300 }, /privacy\.budgetEpsilon: must be at least 0.01/],
  ])('%s: refused at create with the reason', (_name, over, reason) => {
    if (reason) expect(() => parseFederationConfig(dp(over))).toThrow(reason);
    else expect(() => parseFederationConfig(dp(over))).not.toThrow();
  });
  test('δ must be below 1/sitesPerRound', () => {
    expect(() => parseFederationConfig({ ...dp({ delta: 1e-3 }), sitesPerRound: 2000, minSites: 2 })).toThrow(/delta must be below 1\/sitesPerRound/);
  });
});
