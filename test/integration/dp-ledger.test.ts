import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { status } from '@grpc/grpc-js';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { callUnary, downloadModel, getTask, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import type { FederationMsg, GetLedgerResponseMsg, RoundMsg, RoundPlanMsg, TensorSpec } from '../../protocols/index.ts';
import type { FederationConfigInput } from '../../coordinator/federation-config.ts';

type PrivacyInput = NonNullable<FederationConfigInput['privacy']>;
import { PrivacyLedger, type LedgerPayload } from '../../coordinator/privacy/ledger.ts';
import { Store } from '../../coordinator/store.ts';
import { loadOrCreateKeys } from '../../coordinator/keys.ts';
import { genesisHash, verifyChain } from '../../crypto/ledger-signing.ts';
import { analyticGaussianSigma, clipToNorm, l2Norm, tightestEpsilon } from '../../crypto/dp/index.ts';
import { startTestFederation, tempDataDir, type TestFederation, type TestSiteOptions } from '../helpers/coordinator.ts';
import { expectGrpcError, plansFor } from '../helpers/raw-site.ts';
import { until } from '../helpers/wait.ts';

const DELTA = 1e-5;

function privacy(overrides: Partial<PrivacyInput>): PrivacyInput {
  return { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA, ...overrides };
}

/** A deterministic, dense direction scaled to the given L2 norm. */
function vectorWithNorm(length: number, norm: number, seed: number): Float32Array {
  const v = new Float32Array(length);
  for (let i = 0; i < length; i++) v[i] = Math.sin(i * 0.7 + seed * 1.3) + 0.25 * Math.cos(i * 0.011 * seed);
  const scale = norm / l2Norm(v);
  for (let i = 0; i < length; i++) v[i] = v[i]! * scale;
  return v;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}


interface Fx extends TestFederation {
  client: ReturnType<typeof participantClient>;
  layout: TensorSpec[];
  dataDir: string;
  close: () => Promise<void>;
}

async function setup(options: { sites: number; privacy: PrivacyInput; rounds?: number; minSites?: number; roundDeadlineMs?: number; siteOptions?: TestSiteOptions[] }): Promise<Fx> {
  const { dir, cleanup } = tempDataDir('conclave-dp-');
  const fx = await startTestFederation({ dataDir: dir, ...options });
  const client = participantClient(fx.coordinator.address);
  const model = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
  return {
    ...fx, client, layout: model.layout, dataDir: dir,
    close: async () => {
      client.close();
      fx.admin.close();
      await fx.coordinator.close();
      cleanup();
    },
  };
}

const admin = <T>(fx: Fx, method: string, req: unknown) => callUnary<T>(fx.admin, method, req, fx.coordinator.adminToken);
const rounds = async (fx: Fx) => (await admin<{ rounds: RoundMsg[] }>(fx, 'ListRounds', { federationId: fx.federation.id })).rounds;
const federation = (fx: Fx) => admin<FederationMsg>(fx, 'GetFederation', { federationId: fx.federation.id });
const ledger = (fx: Fx) => admin<GetLedgerResponseMsg>(fx, 'GetLedger', { federationId: fx.federation.id });
const payloadsOf = (l: GetLedgerResponseMsg) => l.entries.map((e) => JSON.parse(e.payloadJson) as LedgerPayload);
const weights = async (fx: Fx, version: number) => (await downloadModel(fx.client, fx.sites[0]!.token, { federationId: fx.federation.id, version })).values;

async function submit(fx: Fx, site: number, plan: RoundPlanMsg, values: Float32Array, unclipped = false): Promise<void> {
  await submitUpdate(fx.client, fx.sites[site]!.token, { roundId: plan.roundId, numExamples: 10, layout: fx.layout, values, trainLoss: 0, trainAccuracy: 0, unclipped });
}

async function committed(fx: Fx, roundId: string, timeoutMs = 15_000): Promise<RoundMsg> {
  return until(`round ${roundId} to close`, async () => {
    const r = (await rounds(fx)).find((x) => x.id === roundId);
    if (r?.state === 'aborted') throw new Error(`round aborted: ${r.abortReason}`);
    return r?.state === 'committed' ? r : null;
  }, timeoutMs);
}

/** Residual statistics of (after − before − expectedMean): mean and standard deviation per coordinate. */
function residualStats(after: Float32Array, before: Float32Array, expectedMean: Float32Array): { mean: number; std: number } {
  let s = 0;
  let ss = 0;
  for (let i = 0; i < after.length; i++) {
    const r = after[i]! - before[i]! - expectedMean[i]!;
    s += r;
    ss += r * r;
  }
  const mean = s / after.length;
  return { mean, std: Math.sqrt(ss / after.length - mean * mean) };
}

describe('central DP with a federation budget (q = 1, 2 sites)', () => {
  // σ = 2, q = 1: RDP ε after 2 rounds ≈ 3.19, after 3 ≈ 4.01 (δ = 1e-5). A budget of 3.6 buys exactly 2.
  const BUDGET = 3.6;
  const SIGMA = 2;
  const CLIP = 1;
  let fx: Fx;
  const roundIds: string[] = [];
  const firstPlans: RoundPlanMsg[] = [];

  beforeAll(async () => {
    fx = await setup({ sites: 2, rounds: 5, privacy: privacy({ noiseMultiplier: SIGMA, clipNorm: CLIP, budgetEpsilon: BUDGET }) });
  });
  afterAll(async () => fx?.close());

  test('each round plans clip C, the release is Σclip(Δ)/expectedSites + N(0, (σC/expectedSites)²), and the budget stops the federation early', async () => {
    for (let r = 0; r < 2; r++) {
      const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
      if (r === 0) firstPlans.push(...plans);
      for (const plan of plans) expect(plan.dp).toMatchObject({ mode: 'central', clipNorm: CLIP, siteNoiseStd: 0, reportUnclipped: false });
      const before = await weights(fx, plans[0]!.modelVersion);
      // Site 0 "forgot" to clip (norm 3 > C); site 1 is well inside (norm 0.5).
      const a = vectorWithNorm(before.length, 3, 1 + r);
      const b = vectorWithNorm(before.length, 0.5, 5 + r);
      await submit(fx, 0, plans[0]!, a);
      await submit(fx, 1, plans[1]!, b);
      const round = await committed(fx, plans[0]!.roundId);
      roundIds.push(round.id);
      const after = await weights(fx, round.resultVersion);
      const clippedA = Float32Array.from(a);
      clipToNorm(clippedA, CLIP);
      const expected = new Float32Array(before.length);
      for (let i = 0; i < expected.length; i++) expected[i] = (clippedA[i]! + b[i]!) / 2;
      // d ≈ 10⁵ coordinates: the sample std of the noise is within ~0.3% of σC/expectedSites = 1.
      const { mean, std } = residualStats(after, before, expected);
      expect(std).toBeGreaterThan(0.98 * (SIGMA * CLIP) / 2);
      expect(std).toBeLessThan(1.02 * (SIGMA * CLIP) / 2);
      expect(Math.abs(mean)).toBeLessThan(0.02);
    }
    const fed = await until('the federation to finish', async () => {
      const f = await federation(fx);
      return f.status === 'finished' ? f : null;
    });
    expect(fed.finishReason).toContain('privacy budget exhausted');
    expect(fed.committedRounds).toBe(2);
    expect(fed.committedRounds).toBeLessThan(5);
    const all = await rounds(fx);
    expect(all.map((r) => r.state)).toEqual(['committed', 'committed']);
  });

  test('the ledger holds one signed entry per committed round, each within the budget, and GetLedger recomputes ε from the entries', async () => {
    const l = await ledger(fx);
    const payloads = payloadsOf(l);
    expect(l.entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(payloads.map((p) => p.roundId)).toEqual(roundIds);
    for (const p of payloads) {
      expect(p.epsilonAfter.epsilon).toBeLessThanOrEqual(BUDGET);
      expect(p.event).toMatchObject({
        mode: 'central', release: 'aggregate', adjacency: 'add-remove', sensitivity: CLIP, noiseMultiplier: SIGMA, configuredNoiseMultiplier: SIGMA,
        clipNorm: CLIP, sampling: 'poisson', sampleRate: 1, expectedSites: 2,
      });
      expect(p.event).not.toHaveProperty('survivingSites');
      expect(p.eligible.map((e) => e.siteId).sort()).toEqual(fx.sites.map((s) => s.siteId).sort());
    }
    expect(payloads[1]!.epsilonAfter.epsilon).toBeGreaterThan(payloads[0]!.epsilonAfter.epsilon);
    const recomputed = tightestEpsilon(payloads.map((p) => ({ noiseMultiplier: p.event.mechanism === 'gaussian' ? p.event.noiseMultiplier : NaN, sampleRate: p.event.sampleRate, count: 1 })), DELTA);
    expect(l.federation!.epsilon).toBeCloseTo(recomputed.epsilon, 9);
    expect(l.federation!.rdpEpsilon).toBeCloseTo(recomputed.rdp, 9);
    expect(l.federation!.epsilon).toBeLessThanOrEqual(BUDGET);
    expect(l.federation!.epsilon).toBeCloseTo(payloads[1]!.epsilonAfter.epsilon, 9);
    // Another round at σ would go over: the stop was not premature.
    const plusOne = tightestEpsilon([{ noiseMultiplier: SIGMA, sampleRate: 1, count: 3 }], DELTA);
    expect(plusOne.rdp).toBeGreaterThan(BUDGET);
    for (const p of l.participants) {
      expect(p.epsilon.epsilon).toBeLessThanOrEqual(BUDGET);
      expect(p.roundsEligible).toBe(2);
    }
    expect(await fx.coordinator.ledger.verify(fx.federation.id)).toEqual([]);
    // Offline: the JWKS in the report alone verifies the chain.
    const jwks = JSON.parse(l.jwksJson) as { keys: JWK[] };
    const key = await importJWK(jwks.keys[0]!, 'EdDSA');
    const problems = await verifyChain(key as CryptoKey, l.entries.map((e) => ({ seq: e.seq, payload: e.payloadJson, hash: e.hash, jws: e.jws })),
      (payload) => (JSON.parse(payload) as LedgerPayload).prevHash, { genesis: genesisHash(fx.federation.id) });
    expect(problems).toEqual([]);
  });

  test('StartFederation after exhaustion is FAILED_PRECONDITION and nothing else runs', async () => {
    const err = await expectGrpcError(admin(fx, 'StartFederation', { federationId: fx.federation.id }));
    expect(err.status).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/budget|finished/);
    await new Promise((r) => setTimeout(r, 300));
    expect((await federation(fx)).status).toBe('finished');
    expect(await rounds(fx)).toHaveLength(2);
    const task = await getTask(fx.client, fx.sites[0]!.token, 0);
    expect(task.task).toBe('finished');
  });

  test('the ledger is append-only in the store, and a payload tampered behind its back is detected', async () => {
    const db = fx.coordinator.store.db;
    const before = fx.coordinator.ledger.entries(fx.federation.id);
    expect(() => db.prepare('UPDATE ledger_entries SET payload_json = ? WHERE seq = 1').run('{}')).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM ledger_entries WHERE seq = 2').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM ledger_entries').run()).toThrow(/append-only/);
    expect(fx.coordinator.ledger.entries(fx.federation.id)).toEqual(before);

    // Someone with the db file bypasses the trigger on a copy and lowers the recorded cost of round 1.
    const copyDir = join(fx.dataDir, 'tampered');
    mkdirSync(copyDir);
    db.exec(`VACUUM INTO '${join(copyDir, 'conclave.db').replaceAll("'", "''")}'`);
    const raw = new DatabaseSync(join(copyDir, 'conclave.db'));
    raw.exec('DROP TRIGGER ledger_no_update');
    const changed = raw.prepare(`UPDATE ledger_entries SET payload_json = replace(payload_json, '"noiseMultiplier":2,', '"noiseMultiplier":20,') WHERE seq = 1`).run();
    expect(Number(changed.changes)).toBe(1);
    raw.close();
    const store = new Store(copyDir);
    try {
      const { keys } = await loadOrCreateKeys(fx.dataDir);
      const tampered = new PrivacyLedger(store, keys);
      expect(tampered.payloads(fx.federation.id)[0]!.event).toMatchObject({ noiseMultiplier: 20 });
      const problems = await tampered.verify(fx.federation.id);
      expect(problems.map((p) => `${p.seq}:${p.problem}`)).toEqual(['1:payload-mismatch', '1:hash-mismatch']);
    } finally {
      store.close();
    }
  });
});

test('central mode re-clips an oversized update: with tiny noise, new − base ≈ (clip(Δa) + Δb)/2', async () => {
  const fx = await setup({ sites: 2, rounds: 1, privacy: privacy({ noiseMultiplier: 0.01, clipNorm: 1 }) });
  try {
    const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
    const base = await weights(fx, 0);
    const a = vectorWithNorm(base.length, 10, 2);
    const b = vectorWithNorm(base.length, 0.25, 7);
    await submit(fx, 0, plans[0]!, a);
    await submit(fx, 1, plans[1]!, b);
    const round = await committed(fx, plans[0]!.roundId);
    const after = await weights(fx, round.resultVersion);
    const diff = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) diff[i] = after[i]! - base[i]!;
    // Projections on unit directions: noise along any fixed unit vector is N(0, (σC/2)²) = N(0, 0.005²).
    const ua = Float32Array.from(a, (x) => x / 10);
    const ub = Float32Array.from(b, (x) => x / 0.25);
    const expectedA = (1 + dot(b, ua)) / 2; // ‖clip(Δa)‖ = C = 1; re-clipping skipped would give ≈ 5
    const expectedB = (dot(a, ub) / 10 + 0.25) / 2;
    expect(Math.abs(dot(diff, ua) - expectedA)).toBeLessThan(0.03);
    expect(Math.abs(dot(diff, ub) - expectedB)).toBeLessThan(0.03);
    // The whole difference: ‖new − base − (clip(Δa)+Δb)/2‖ is the noise norm ≈ σC/2·√d.
    const expected = new Float32Array(base.length);
    for (let i = 0; i < base.length; i++) expected[i] = (a[i]! / 10 + b[i]!) / 2;
    const { std } = residualStats(after, base, expected);
    expect(std).toBeGreaterThan(0.9 * 0.005);
    expect(std).toBeLessThan(1.1 * 0.005);
  } finally {
    await fx.close();
  }
});

// Distributed DP now runs only inside secure aggregation (test/integration/ddg-secagg.test.ts); the
// site-release charge written when the round opens is local DP's.
test('local mode: the charge for each site\'s update is written before the plans go out; a silent site adds nothing to the sum', async () => {
  const EPS = 4;
  const CLIP = 0.8;
  const fx = await setup({ sites: 3, minSites: 2, rounds: 1, roundDeadlineMs: 2000, privacy: privacy({ mode: 'local', noiseMultiplier: null, localEpsilon: EPS, clipNorm: CLIP }) });
  const SIGMA = analyticGaussianSigma(EPS, DELTA, 1);
  try {
    const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
    for (const plan of plans) {
      expect(plan.dp).toMatchObject({ mode: 'local', clipNorm: CLIP, reportUnclipped: false, sampleRate: 1, delta: DELTA });
      expect(plan.dp!.siteNoiseStd).toBeCloseTo(SIGMA * 2 * CLIP, 12);
      expect(plan.dp!.noiseMultiplier).toBeCloseTo(plan.dp!.siteNoiseStd / (2 * CLIP), 12);
    }
    // The coordinator sees each update: each is charged as a release of
    // its own (sensitivity 2C, rate 1) as soon as the round is planned.
    const [charge] = payloadsOf(await ledger(fx));
    expect(charge).toMatchObject({ roundId: plans[0]!.roundId, modelVersion: null });
    expect(charge!.event).toMatchObject({ mode: 'local', release: 'site-updates', adjacency: 'replace-one', configuredNoiseMultiplier: SIGMA, clipNorm: CLIP, expectedSites: 3, sampleRate: 1 });
    expect(charge!.event.mechanism === 'gaussian' && charge!.event.noiseMultiplier).toBeCloseTo(SIGMA, 12);
    expect(charge!.eligible.map((e) => e.siteId).sort()).toEqual(fx.sites.map((s) => s.siteId).sort());
    const base = await weights(fx, 0);
    const a = vectorWithNorm(base.length, 0.5, 3);
    const b = vectorWithNorm(base.length, 0.3, 4);
    await submit(fx, 0, plans[0]!, a);
    await submit(fx, 1, plans[1]!, b);
    // Site 2 stays silent.
    const round = await committed(fx, plans[0]!.roundId, 10_000);
    expect(round.closedUnixMs - round.openedUnixMs).toBeGreaterThanOrEqual(1900);
    expect(round.submittedSites.sort()).toEqual([fx.sites[0]!.siteId, fx.sites[1]!.siteId].sort());
    // The commit adds no second charge: the aggregate is post-processing of what was already paid for.
    expect(payloadsOf(await ledger(fx))).toHaveLength(1);
    // The coordinator adds no noise of its own: the sites' (here: absent) noise is all there is, over expectedSites = 3.
    const after = await weights(fx, round.resultVersion);
    let worst = 0;
    for (let i = 0; i < base.length; i++) worst = Math.max(worst, Math.abs(after[i]! - base[i]! - (a[i]! + b[i]!) / 3));
    expect(worst).toBeLessThan(1e-6);
  } finally {
    await fx.close();
  }
});

test('a site with its own smaller budget leaves the eligible population while the federation goes on', async () => {
  // σ = 2, q = 1: one round ≈ ε 2.17, two ≈ 3.19. Site 2 may spend 2.5 (one round); the others 6 (four).
  const fx = await setup({
    sites: 3, minSites: 2, rounds: 3, roundDeadlineMs: 3000,
    privacy: privacy({ noiseMultiplier: 2, clipNorm: 1, budgetEpsilon: 6 }), siteOptions: [{}, {}, { budgetEpsilon: 2.5 }],
  });
  const ids = fx.sites.map((s) => s.siteId);
  try {
    const first = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
    const d = vectorWithNorm((await weights(fx, 0)).length, 0.1, 9);
    for (let i = 0; i < 3; i++) await submit(fx, i, first[i]!, d);
    await committed(fx, first[0]!.roundId);
    for (let r = 2; r <= 3; r++) {
      const plans = await plansFor(fx.coordinator.address, [fx.sites[0]!.token, fx.sites[1]!.token]);
      expect(plans[0]!.roundNumber).toBe(r);
      // The exhausted site is told to wait, not given the plan.
      const task = await getTask(fx.client, fx.sites[2]!.token, 200);
      expect(task.task).toBe('wait');
      const err = await expectGrpcError(submit(fx, 2, plans[0]!, d));
      expect(err.code).toBe('NOT_SELECTED');
      await submit(fx, 0, plans[0]!, d);
      await submit(fx, 1, plans[1]!, d);
      const round = await committed(fx, plans[0]!.roundId);
      expect(round.selectedSites.sort()).toEqual([ids[0], ids[1]].sort());
    }
    const fed = await until('the federation to finish', async () => {
      const f = await federation(fx);
      return f.status === 'finished' ? f : null;
    });
    expect(fed.finishReason).toBe('all 3 rounds committed');
    const l = await ledger(fx);
    const payloads = payloadsOf(l);
    expect(payloads).toHaveLength(3);
    expect(payloads[0]!.eligible.map((e) => e.siteId).sort()).toEqual([...ids].sort());
    for (const p of payloads.slice(1)) {
      expect(p.eligible.map((e) => e.siteId).sort()).toEqual([ids[0], ids[1]].sort());
      expect(p.event.expectedSites).toBe(2);
    }
    const bySite = new Map(l.participants.map((p) => [p.siteId, p]));
    expect(bySite.get(ids[2]!)).toMatchObject({ roundsEligible: 1, epsilon: { budgetEpsilon: 2.5 } });
    expect(bySite.get(ids[2]!)!.epsilon.epsilon).toBeLessThanOrEqual(2.5);
    for (const id of [ids[0]!, ids[1]!]) {
      expect(bySite.get(id)).toMatchObject({ roundsEligible: 3, epsilon: { budgetEpsilon: 6 } });
      expect(bySite.get(id)!.epsilon.epsilon).toBeLessThanOrEqual(6);
      expect(bySite.get(id)!.epsilon.epsilon).toBeGreaterThan(2.5);
    }
    expect(l.federation!.epsilon).toBeLessThanOrEqual(6);
  } finally {
    await fx.close();
  }
});

describe('adaptive clipping', () => {
  const adaptive = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStd: 0.05 };

  test('all sites unclipped: the next plan clips tighter, and the ledger charges (σ⁻² + (2σ_b)⁻²)^(−1/2)', async () => {
    const SIGMA = 1;
    const fx = await setup({ sites: 2, rounds: 2, privacy: privacy({ noiseMultiplier: SIGMA, clipNorm: 1, adaptiveClip: adaptive }) });
    try {
      const plans1 = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
      for (const plan of plans1) expect(plan.dp).toMatchObject({ clipNorm: 1, reportUnclipped: true });
      const d = vectorWithNorm((await weights(fx, 0)).length, 0.01, 11);
      await submit(fx, 0, plans1[0]!, d, true);
      await submit(fx, 1, plans1[1]!, d, true);
      await committed(fx, plans1[0]!.roundId);
      const plans2 = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
      const [entry] = payloadsOf(await ledger(fx));
      const ac = entry!.event.adaptiveClip!;
      expect(ac).toMatchObject({ countNoiseStd: 0.05, targetQuantile: 0.5 });
      // 2 of 2 unclipped: b̄ ≈ 1 (noise std 0.05/2).
      expect(Math.abs(ac.noisedUnclippedFraction - 1)).toBeLessThan(0.15);
      expect(ac.nextClipNorm).toBeCloseTo(Math.exp(-0.2 * (ac.noisedUnclippedFraction - 0.5)), 12);
      expect(plans2[0]!.dp!.clipNorm).toBe(ac.nextClipNorm);
      expect(plans2[0]!.dp!.clipNorm).toBeLessThan(plans1[0]!.dp!.clipNorm);
      expect(entry!.event.mechanism === 'gaussian' && entry!.event.noiseMultiplier).toBeCloseTo((SIGMA ** -2 + (2 * 0.05) ** -2) ** -0.5, 12);
      expect(entry!.event.configuredNoiseMultiplier).toBe(SIGMA);
      expect(entry!.event.clipNorm).toBe(1);
    } finally {
      await fx.close();
    }
  });

  test('with a dropout the count is released centred (b − ½), so the 2σ_b in the ledger is the right sensitivity', async () => {
    // 3 expected sites, 2 survive, both unclipped. Centred release: ½ + (2 − 2·½ + noise)/3 ≈ 5/6.
    // The uncentred sum (2 + noise)/3 ≈ 2/3 has sensitivity 1, which the ledger's (2σ_b)⁻² term would under-charge.
    const fx = await setup({ sites: 3, minSites: 2, rounds: 1, roundDeadlineMs: 1500, privacy: privacy({ noiseMultiplier: 1, clipNorm: 1, adaptiveClip: adaptive }) });
    try {
      const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
      const d = vectorWithNorm((await weights(fx, 0)).length, 0.01, 12);
      await submit(fx, 0, plans[0]!, d, true);
      await submit(fx, 1, plans[1]!, d, true);
      await committed(fx, plans[0]!.roundId, 10_000);
      const [entry] = payloadsOf(await ledger(fx));
      expect(JSON.stringify(entry!.event)).not.toMatch(/surviv/);
      expect(Math.abs(entry!.event.adaptiveClip!.noisedUnclippedFraction - 5 / 6)).toBeLessThan(0.08);
    } finally {
      await fx.close();
    }
  });
});
