/**
 * The ledger must never report an ε smaller than the truth. Each test drives a real coordinator
 * over gRPC with raw sites whose behaviour (sampling, dropouts, what they send) the test controls,
 * and compares what the ledger reports with an independent reference computed here from what was
 * actually released (test/helpers/privacy-reference.ts shares no code with crypto/dp).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { downloadModel, getTask, participantClient, submitUpdate, callUnary } from '../../client-sdk/connection.ts';
import type { FederationMsg, GetLedgerResponseMsg, RoundMsg, RoundPlanMsg, TensorSpec } from '../../protocols/index.ts';
import type { FederationConfigInput } from '../../coordinator/federation-config.ts';
import type { LedgerPayload } from '../../coordinator/privacy/ledger.ts';
import { configMessage } from '../../coordinator/federation-config.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { adminClient } from '../../client-sdk/connection.ts';
import { composedGaussianSigma, conditionedInclusion, exactGaussianEpsilon, subsampledGaussianEpsilonLowerBound } from '../helpers/privacy-reference.ts';
import { createZooFederation, tempDataDir } from '../helpers/coordinator.ts';
import { analyticGaussianSigma } from '../../crypto/dp/index.ts';
import { seededRandom } from '../helpers/processes.ts';

type PrivacyInput = NonNullable<FederationConfigInput['privacy']>;
const DELTA = 1e-5;

let coordinator: RunningCoordinator;
let admin: ReturnType<typeof adminClient>;
let cleanup: () => void;

beforeAll(async () => {
  const dir = tempDataDir('conclave-soundness-');
  cleanup = dir.cleanup;
  coordinator = await startCoordinator({ dataDir: dir.dir, port: 0, log: silentLogger });
  admin = adminClient(coordinator.address);
});

afterAll(async () => {
  admin?.close();
  await coordinator?.close();
  cleanup?.();
});

const call = <T>(method: string, req: unknown) => callUnary<T>(admin, method, req, coordinator.adminToken);

interface Fed {
  id: string;
  sites: Array<{ siteId: string; token: string; sampleRate: number }>;
  privacy: PrivacyInput;
  minSites: number;
}

async function createFederation(options: {
  sites: number; rounds: number; minSites: number; deadlineMs: number; privacy: PrivacyInput; siteRates?: number[]; siteBudget?: number;
}): Promise<Fed> {
  const config: FederationConfigInput = {
    name: 'soundness', model: 'mlp', rounds: options.rounds, sitesPerRound: options.sites, minSites: options.minSites,
    roundDeadlineMs: options.deadlineMs, seed: 3, protection: 'none',
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' }, privacy: options.privacy,
  };
  const fed = await createZooFederation(admin, coordinator.adminToken, config);
  const sites = [];
  for (let i = 0; i < options.sites; i++) {
    const rate = options.siteRates?.[i] ?? options.privacy.sampleRate;
    const enrolled = await call<{ siteId: string; token: string }>('EnrollSite', {
      federationId: fed.id, siteName: `s${i}`, budgetEpsilon: options.siteBudget ?? 0, sampleRate: options.siteRates ? rate : 0,
    });
    sites.push({ ...enrolled, sampleRate: rate });
  }
  return { id: fed.id, sites, privacy: options.privacy, minSites: options.minSites };
}

/** What one raw site saw and sent. */
interface SiteLog {
  plans: RoundPlanMsg[];
  /** Every update that left the site, whatever the coordinator answered: the coordinator saw it. */
  sent: Array<{ plan: RoundPlanMsg; accepted: boolean; receivedUpdates: number }>;
  dropped: number;
}

/**
 * A site that polls, drops out of a round with probability `dropProb` (independently of its data),
 * and otherwise submits a clipped update at once.
 */
async function runSite(fed: Fed, index: number, layout: TensorSpec[], length: number, dropProb: number, seed: number, stopAt: number): Promise<SiteLog> {
  const log: SiteLog = { plans: [], sent: [], dropped: 0 };
  const client = participantClient(coordinator.address);
  const random = seededRandom(seed);
  const seen = new Set<string>();
  const token = fed.sites[index]!.token;
  try {
    while (Date.now() < stopAt) {
      // A coordinator that went away (the test failed and closed it) ends the site.
      const task = await getTask(client, token, 300).catch(() => null);
      if (!task) break;
      if (task.task === 'finished') break;
      if (task.task !== 'round') continue;
      const plan = task.round;
      if (seen.has(plan.roundId)) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      seen.add(plan.roundId);
      log.plans.push(plan);
      if (random() < dropProb) {
        log.dropped++;
        continue;
      }
      const values = new Float32Array(length);
      values[index % length] = 0.5 * (plan.dp?.clipNorm ?? 1);
      try {
        // Under central DP the coordinator is the trusted curator and gets the count; otherwise it is withheld.
        const res = await submitUpdate(client, token, {
          roundId: plan.roundId, numExamples: plan.dp?.mode === 'central' ? 10 : 0, layout, values, trainLoss: 0, trainAccuracy: 0, unclipped: random() < 0.5,
        });
        log.sent.push({ plan, accepted: true, receivedUpdates: res.receivedUpdates });
      } catch {
        log.sent.push({ plan, accepted: false, receivedUpdates: 0 });
      }
    }
  } finally {
    client.close();
  }
  return log;
}

async function modelLayout(fed: Fed): Promise<{ layout: TensorSpec[]; length: number }> {
  const client = participantClient(coordinator.address);
  try {
    const m = await downloadModel(client, fed.sites[0]!.token, { federationId: fed.id, version: 0 });
    return { layout: m.layout, length: m.values.length };
  } finally {
    client.close();
  }
}

async function runFederation(fed: Fed, opts: { dropProb: number; seed: number; seconds: number }): Promise<SiteLog[]> {
  const { layout, length } = await modelLayout(fed);
  await call('StartFederation', { federationId: fed.id });
  const stopAt = Date.now() + opts.seconds * 1000;
  return Promise.all(fed.sites.map((_, i) => runSite(fed, i, layout, length, opts.dropProb, opts.seed * 31 + i, stopAt)));
}

const listRounds = async (fed: Fed) => (await call<{ rounds: RoundMsg[] }>('ListRounds', { federationId: fed.id })).rounds;
const getLedger = (fed: Fed) => call<GetLedgerResponseMsg>('GetLedger', { federationId: fed.id });
const payloads = (l: GetLedgerResponseMsg) => l.entries.map((e) => JSON.parse(e.payloadJson) as LedgerPayload);

const referenceCache = new Map<string, number>();
function subsampledReference(sigma: number, r: number, rounds: number): number {
  const key = `${sigma}|${r}|${rounds}`;
  let v = referenceCache.get(key);
  if (v === undefined) {
    v = subsampledGaussianEpsilonLowerBound(sigma, r, rounds, DELTA);
    referenceCache.set(key, v);
  }
  return v;
}

/**
 * The reference ε for each site from what was released:
 * - central: each committed round is the Poisson-subsampled Gaussian at the site's TRUE inclusion
 *   probability: q·(1 − dropout), or, when the coordinator aborted rounds for having too few
 *   contributors, the inclusion probability conditioned on the committed rounds' S ≥ m;
 * - local: every update the site sent is a Gaussian release to the coordinator at
 *   (noise std it was told to add) ÷ 2C, rate 1, whether the round later committed or not.
 */
async function referenceEpsilons(fed: Fed, logs: SiteLog[], dropProb: number): Promise<number[]> {
  const rounds = await listRounds(fed);
  if (fed.privacy.mode !== 'central') {
    return logs.map((log) => exactGaussianEpsilon(composedGaussianSigma(log.sent.map((s) => s.plan.dp!.siteNoiseStd / (2 * s.plan.dp!.clipNorm))), DELTA));
  }
  const committed = rounds.filter((r) => r.state === 'committed').length;
  const conditioned = rounds.some((r) => r.state === 'aborted' && /quorum|sampled/.test(r.abortReason));
  const ac = fed.privacy.adaptiveClip;
  const sigma = ac ? (fed.privacy.noiseMultiplier! ** -2 + (2 * ac.countNoiseStd) ** -2) ** -0.5 : fed.privacy.noiseMultiplier!;
  const rates = fed.sites.map((s) => s.sampleRate * (1 - dropProb));
  return fed.sites.map((_, i) => {
    const r = conditioned ? conditionedInclusion(rates, i, fed.minSites) : rates[i]!;
    return subsampledReference(sigma, Math.min(1, r), committed);
  });
}

function expectAtLeast(ledgerEpsilon: number, reference: number, what: string): void {
  // The reference is a lower bound on the truth; the ledger must be an upper bound.
  if (!(ledgerEpsilon >= reference * (1 - 1e-6) - 1e-9)) {
    throw new Error(`${what}: the ledger reports ε = ${ledgerEpsilon} but at least ${reference} was spent`);
  }
}

async function checkLedgerCoversReleases(fed: Fed, logs: SiteLog[], dropProb: number): Promise<{ reference: number[]; ledger: GetLedgerResponseMsg }> {
  const reference = await referenceEpsilons(fed, logs, dropProb);
  const ledger = await getLedger(fed);
  const bySite = new Map(ledger.participants.map((p) => [p.siteId, p.epsilon.epsilon]));
  fed.sites.forEach((site, i) => expectAtLeast(bySite.get(site.siteId) ?? 0, reference[i]!, `site ${i} (${fed.privacy.mode})`));
  expectAtLeast(ledger.federation?.epsilon ?? 0, Math.max(0, ...reference), `federation (${fed.privacy.mode})`);
  return { reference, ledger };
}

describe('item 1: a tight quorum never conditions the Poisson sample', () => {
  test('central DP, n = 6, q = 0.3, quorum 3: every round is released and charged at q, however few sites came', async () => {
    const fed = await createFederation({
      sites: 6, rounds: 5, minSites: 3, deadlineMs: 400,
      privacy: { mode: 'central', noiseMultiplier: 1.5, localEpsilon: null, clipNorm: 1, sampleRate: 0.3, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    const logs = await runFederation(fed, { dropProb: 0, seed: 1, seconds: 12 });
    const rounds = await listRounds(fed);
    // Nothing is aborted for being small, and small rounds do commit.
    expect(rounds.filter((r) => r.state === 'aborted')).toEqual([]);
    expect(rounds.filter((r) => r.state === 'committed')).toHaveLength(5);
    expect(rounds.some((r) => r.submittedSites.length < 3)).toBe(true);
    const { ledger } = await checkLedgerCoversReleases(fed, logs, 0);
    for (const p of payloads(ledger)) expect(p.event).toMatchObject({ sampling: 'poisson', sampleRate: 0.3, noiseMultiplier: 1.5 });
    expect(ledger.entries).toHaveLength(5);
  });
});

describe('item 2: the number of contributors is never released under DP', () => {
  test('ledger entries, model metrics and the sites\' responses carry nothing that depends on who came', async () => {
    const fed = await createFederation({
      sites: 6, rounds: 8, minSites: 1, deadlineMs: 400,
      privacy: {
        mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 0.6,
        adaptiveClip: { targetQuantile: 0.5, learningRate: 0.2, countNoiseStd: 0.5 }, budgetEpsilon: null, delta: DELTA,
      },
    });
    const logs = await runFederation(fed, { dropProb: 0.3, seed: 2, seconds: 20 });
    const rounds = (await listRounds(fed)).filter((r) => r.state === 'committed');
    expect(rounds).toHaveLength(8);
    // Different rounds had different numbers of contributors (8 rounds of Binomial(6, 0.42) counts
    // all equal has probability < 1e-4)...
    expect(new Set(rounds.map((r) => r.submittedSites.length)).size).toBeGreaterThan(1);
    // ...yet every entry's event is the same apart from the clip norm, which only follows the
    // previous rounds' noised clipping counts (post-processing of released values).
    const events = payloads(await getLedger(fed)).map((p) => ({ ...p.event, adaptiveClip: null, clipNorm: 0, sensitivity: 0 }));
    for (const e of events) expect(e).toEqual(events[0]);
    expect(JSON.stringify(events[0])).not.toMatch(/surviv|submitted|updates/i);
    // The charged σ composes the count query at sensitivity ½, valid only while S stays hidden.
    expect((events[0] as { noiseMultiplier: number }).noiseMultiplier).toBeCloseTo((1 + (2 * 0.5) ** -2) ** -0.5, 12);
    for (const log of logs) for (const s of log.sent) if (s.accepted) expect(s.receivedUpdates).toBe(0);
    const models = (await call<{ models: Array<{ version: number; metricsJson: string }> }>('ListModels', { federationId: fed.id })).models;
    for (const m of models.filter((x) => x.version > 0)) expect(JSON.parse(m.metricsJson)).toEqual({});
    await checkLedgerCoversReleases(fed, logs, 0.3);
  });
});

describe('item 3: site releases are charged when they happen, not at commit', () => {
  test('local DP with a quorum that dropouts miss: aborted rounds are charged to every selected site, before any plan goes out', async () => {
    const fed = await createFederation({
      sites: 3, rounds: 2, minSites: 3, deadlineMs: 300,
      privacy: { mode: 'local', noiseMultiplier: null, localEpsilon: 2, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    // Before anything runs the ledger is empty; the first plan a site sees is already paid for.
    const { layout, length } = await modelLayout(fed);
    await call('StartFederation', { federationId: fed.id });
    const client = participantClient(coordinator.address);
    // Sites 1 and 2 are online (they poll) but never send anything.
    let polling = true;
    const silent = fed.sites.slice(1).map(async (site) => {
      while (polling) if (!(await getTask(client, site.token, 200).catch(() => null))) return;
    });
    try {
    let plan: RoundPlanMsg | null = null;
    for (let i = 0; i < 50 && !plan; i++) {
      const t = await getTask(client, fed.sites[0]!.token, 500);
      if (t.task === 'round') plan = t.round;
    }
    expect(plan).not.toBeNull();
    const first = payloads(await getLedger(fed));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ roundId: plan!.roundId, modelVersion: null });
    expect(first[0]!.event).toMatchObject({ release: 'site-updates', adjacency: 'replace-one', sampling: 'selected', sampleRate: 1 });
    expect(first[0]!.eligible.map((e) => e.siteId).sort()).toEqual(fed.sites.map((s) => s.siteId).sort());
    // Site 0 sends; the others stay silent, so the round aborts below its quorum.
    await submitUpdate(client, fed.sites[0]!.token, { roundId: plan!.roundId, numExamples: 0, layout, values: new Float32Array(length), trainLoss: 0, trainAccuracy: 0, unclipped: false });
    const deadline = Date.now() + 10_000;
    let rounds: RoundMsg[] = [];
    while (Date.now() < deadline) {
      rounds = await listRounds(fed);
      if (rounds.filter((r) => r.state === 'aborted').length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const aborted = rounds.filter((r) => r.state === 'aborted');
    expect(aborted.length).toBeGreaterThanOrEqual(2);
    const ledger = await getLedger(fed);
    const charged = new Set(payloads(ledger).map((p) => p.roundId));
    for (const r of rounds.filter((x) => x.state !== 'open')) expect(charged.has(r.id)).toBe(true);
    // Site 0 released one update in an aborted round: its ε is at least that release's exact ε.
    const sigma = plan!.dp!.siteNoiseStd / (2 * plan!.dp!.clipNorm);
    expect(plan!.dp!.noiseMultiplier).toBeCloseTo(sigma, 12);
    const site0 = ledger.participants.find((p) => p.siteId === fed.sites[0]!.siteId)!;
    expectAtLeast(site0.epsilon.epsilon, exactGaussianEpsilon(sigma, DELTA), 'site 0');
    expect(site0.roundsEligible).toBeGreaterThanOrEqual(2);
    } finally {
      polling = false;
      await Promise.all(silent);
      client.close();
    }
  });

  // Distributed DP runs only inside secure aggregation now (test/integration/ddg-secagg.test.ts);
  // what the coordinator sees of each update is local DP's release.
  test('local DP is charged as what the coordinator sees: each update at its own σ, sensitivity 2C, rate 1', async () => {
    const fed = await createFederation({
      sites: 3, rounds: 1, minSites: 2, deadlineMs: 400,
      privacy: { mode: 'local', noiseMultiplier: null, localEpsilon: 3, clipNorm: 0.8, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    const logs = await runFederation(fed, { dropProb: 0, seed: 5, seconds: 6 });
    const [entry] = payloads(await getLedger(fed));
    expect(entry!.event).toMatchObject({ mode: 'local', release: 'site-updates', sampleRate: 1, sensitivity: 1.6 });
    expect(entry!.event).toMatchObject({ noiseMultiplier: analyticGaussianSigma(3, DELTA, 1) });
    await checkLedgerCoversReleases(fed, logs, 0);
  });
});

describe('admission charges what the round will charge', () => {
  test('local DP at q = 0.5 with site budgets: a selected site pays rate 1, so admission checks rate 1 and no site overspends', async () => {
    const BUDGET = 4;
    const fed = await createFederation({
      sites: 4, rounds: 40, minSites: 1, deadlineMs: 300, siteBudget: BUDGET,
      privacy: { mode: 'local', noiseMultiplier: null, localEpsilon: 2, clipNorm: 1, sampleRate: 0.5, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    const logs = await runFederation(fed, { dropProb: 0, seed: 9, seconds: 10 });
    const { ledger } = await checkLedgerCoversReleases(fed, logs, 0);
    // Some site released more than once: admission was exercised, not just a first round.
    expect(Math.max(...logs.map((l) => l.sent.length))).toBeGreaterThan(1);
    for (const p of ledger.participants) expect(p.epsilon.epsilon).toBeLessThanOrEqual(BUDGET * (1 + 1e-9));
  });
});

describe('property: over random federations the ledger never reports less than was released', () => {
  const caseArb = fc.record({
    mode: fc.constantFrom('central', 'central', 'local', 'local'),
    sites: fc.integer({ min: 2, max: 5 }),
    quorumFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    sampleRate: fc.constantFrom(0.3, 0.5, 0.8, 1),
    sigma: fc.double({ min: 0.8, max: 3, noNaN: true }),
    localEpsilon: fc.double({ min: 1, max: 6, noNaN: true }),
    dropProb: fc.constantFrom(0, 0.2, 0.5),
    rounds: fc.integer({ min: 2, max: 4 }),
    adaptive: fc.boolean(),
    budget: fc.option(fc.double({ min: 4, max: 40, noNaN: true }), { freq: 2 }),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
  });

  test('sizes, rates, quorums, dropouts, aborts and modes (12 federations at once)', async () => {
    const cases = fc.sample(caseArb, { seed: 20261130, numRuns: 12 });
    await Promise.all(cases.map(async (c, k) => {
      const minSites = Math.max(1, Math.round(c.quorumFraction * c.sites));
      const privacy: PrivacyInput = {
        mode: c.mode, noiseMultiplier: c.mode === 'local' ? null : c.sigma, localEpsilon: c.mode === 'local' ? c.localEpsilon : null,
        clipNorm: 1, sampleRate: c.sampleRate,
        adaptiveClip: c.mode === 'central' && c.adaptive ? { targetQuantile: 0.5, learningRate: 0.2, countNoiseStd: 1 } : null,
        budgetEpsilon: c.budget, delta: DELTA,
      };
      const fed = await createFederation({ sites: c.sites, rounds: c.rounds, minSites, deadlineMs: 300, privacy });
      const logs = await runFederation(fed, { dropProb: c.dropProb, seed: c.seed, seconds: 7 }).catch((err: unknown) => {
        // A budget too small for even one round is refused at start: nothing ran, nothing to check.
        if ((err as { code?: string }).code === 'BUDGET_EXCEEDED') return null;
        throw err;
      });
      if (!logs) return;
      try {
        const { ledger } = await checkLedgerCoversReleases(fed, logs, c.dropProb);
        // Admission control: what the ledger reports never exceeds the budget it enforced.
        if (c.budget !== null) {
          for (const p of ledger.participants) expect(p.epsilon.epsilon).toBeLessThanOrEqual(c.budget * (1 + 1e-9));
          expect(ledger.federation!.epsilon).toBeLessThanOrEqual(c.budget * (1 + 1e-9));
        }
      } catch (err) {
        throw new Error(`case ${k} ${JSON.stringify({ ...c, minSites })}: ${(err as Error).message}`);
      }
    }));
  });
});
