/**
 * Distributed DP as the distributed discrete Gaussian inside secure aggregation, end to end on the
 * in-memory coordinator: real Participants (fixed trainer), the secagg stages, the DDG encoding at
 * the sites and the decoding at the coordinator, and the ledger's charge.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { Participant } from '../../client-sdk/participant.ts';
import { distributedDiscreteEpsilon, roundedL2Bound } from '../../crypto/dp/ddg.ts';
import { DEFAULT_ORDERS } from '../../crypto/dp/index.ts';
import { secAggParametersFor } from '../../coordinator/protection/secagg-config.ts';
import { participantSeries, recomputeLedger } from '../../coordinator/audit/recompute.ts';
import { buildAuditReport } from '../../coordinator/audit/report.ts';
import type { DdgDpEvent, LedgerPayload } from '../../coordinator/privacy/ledger.ts';
import { parseFederationConfig, type FederationConfigInput } from '../../coordinator/federation-config.ts';
import { runParticipants, TINY_LAYOUT, TINY_TOPOLOGY, fixedTrainer, inMemoryCoordinator, inMemoryTransport, tinyConfig, tinyFederation, type InMemoryCoordinator } from '../helpers/in-memory-coordinator.ts';
import { PrivacyLedger } from '../../coordinator/privacy/ledger.ts';
import { runCli } from '../helpers/processes.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

const DELTA = 1e-5;
const CLIP = 1;
const Z = 0.05;

// Norms from ~1.3 to ~3: every update is clipped, so the clipped mean differs from the raw one.
const deltaOf = (i: number) => Float32Array.from({ length: 8 }, (_, j) => (i + 1) * 0.3 - j * 0.1 + i * i * 0.02);

const clipped = (d: Float32Array) => {
  const norm = Math.hypot(...d);
  return Float64Array.from(d, (v) => (norm > CLIP ? (v * CLIP) / norm : v));
};

function ddgConfig(overrides: Partial<FederationConfigInput> = {}): FederationConfigInput {
  return tinyConfig({
    sitesPerRound: 5, minSites: 3, roundDeadlineMs: 5000, protection: { kind: 'secagg', maxDropout: 0.1 },
    privacy: { mode: 'distributed', noiseMultiplier: Z, localEpsilon: null, clipNorm: CLIP, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    ...overrides,
  } as Partial<FederationConfigInput>);
}

/**
 * The paper's per-round RDP (Kairouz, Liu & Steinke 2021, Prop. 14 as in google-research/federated
 * distributed_dp/accounting_utils.py ddgauss_epsilon, sampling rate 1), typed again here from the
 * paper rather than from crypto/dp/ddg.ts, then the RDP → (ε, δ) conversion of tfp/dp_accounting at
 * the ledger's orders (fractional orders take the RDP of ⌈α⌉).
 */
function paperEpsilon(e: { clip: number; localStddev: number; clients: number; dim: number; granularity: number; beta: number }, delta: number): number {
  const c = e.clip / e.granularity;
  const s = e.localStddev / e.granularity;
  const d = e.dim;
  const l2 = Math.min(c + Math.sqrt(d), Math.sqrt(c * c + d / 4 + Math.sqrt(2 * Math.log(1 / e.beta)) * (c + Math.sqrt(d) / 2)));
  const l1 = l2 * Math.min(Math.sqrt(d), l2);
  let tau = 0;
  for (let k = 1; k < e.clients; k++) tau += Math.exp(-2 * Math.PI ** 2 * s * s * (k / (k + 1)));
  tau *= 10;
  const sd = Math.sqrt(e.clients) * s;
  const rdp = (a: number) => Math.min(
    (a * l2 * l2) / (2 * sd * sd) + tau * d,
    (a / 2) * ((l2 * l2) / (sd * sd) + (2 * l1 * tau) / sd + tau * tau * d),
    (a / 2) * (l2 / sd + Math.sqrt(d) * tau) ** 2,
  );
  let best = Infinity;
  for (const a of DEFAULT_ORDERS) {
    if (a <= 1.01) continue;
    best = Math.min(best, rdp(Math.max(2, Math.ceil(a))) + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1));
  }
  return best;
}

async function runFederation(n: number, config: FederationConfigInput, siteBudgets: Array<number | null> = []) {
  const fed = siteBudgets.length === 0 ? await tinyFederation(c, n, config) : await budgetedFederation(n, config, siteBudgets);
  const deltas = fed.sites.map((_, i) => deltaOf(i));
  await runParticipants(c, fed.sites.map((site, i) => new Participant({ transport: inMemoryTransport(c, site), trainer: fixedTrainer(deltas[i]!), pollWaitMs: 20 })));
  return { fed, deltas };
}

async function budgetedFederation(n: number, config: FederationConfigInput, budgets: Array<number | null>) {
  const fed = await c.federations.create(config, { topologyJson: TINY_TOPOLOGY, layout: TINY_LAYOUT, values: new Float32Array(8) });
  const sites = [];
  for (let i = 0; i < n; i++) {
    const { siteId } = await c.federations.enrollSite(fed.id, `site-${i}`, 0, { budgetEpsilon: budgets[i] ?? null, sampleRate: null });
    sites.push({ siteId, federationId: fed.id });
  }
  c.federations.start(fed.id);
  return { id: fed.id, sites };
}

const cli = (args: string[]) => runCli(args, { timeoutMs: 30_000 });

describe('distributed DP under secure aggregation', () => {
  test('rounds commit the decoded sum (≈ the clipped mean within the noise); the ledger charges the DDG at the paper\'s ε, and the CLI agrees', async () => {
    c = await inMemoryCoordinator();
    const n = 5;
    const config = ddgConfig({ rounds: 2 });
    const { fed, deltas } = await runFederation(n, config);
    const rounds = c.rounds.listRounds(fed.id);
    expect(rounds.map((r) => r.state)).toEqual(['committed', 'committed']);

    // Version 1 = version 0 (zeros) + Σ(clipped updates + discrete noise)/E. The noise of one
    // coordinate of the sum has variance ≤ n·σ², σ = z·C/√E, E = n: std ≤ z·C/n after the division.
    const v1 = c.registry.readWeights(c.registry.get(fed.id, 1));
    const noiseStd = (Z * CLIP) / n;
    const raw = Array.from({ length: 8 }, (_, j) => deltas.reduce((s, d) => s + d[j]!, 0) / n);
    let farFromRaw = 0;
    for (let j = 0; j < 8; j++) {
      const mean = deltas.reduce((s, d) => s + clipped(d)[j]!, 0) / n;
      expect(Math.abs(v1[j]! - mean), `coordinate ${j}`).toBeLessThan(6 * noiseStd);
      if (Math.abs(v1[j]! - raw[j]!) > 10 * noiseStd) farFromRaw++;
    }
    // The sites did clip (the unclipped mean is far away), so the test sees the DP step.
    expect(farFromRaw).toBeGreaterThan(4);

    const payloads = c.ledger.payloads(fed.id) as LedgerPayload[];
    expect(payloads).toHaveLength(2);
    const event = payloads[0]!.event as DdgDpEvent;
    const t = secAggParametersFor(parseFederationConfig(config).protection as never, n).t;
    expect(event).toMatchObject({
      mechanism: 'ddg', mode: 'distributed', release: 'secure-sum', adjacency: 'zero-out', clip: CLIP, dim: 8, clients: Math.max(t, 3),
      sampleRate: 1, maxSites: n, beta: Math.exp(-0.5),
    });
    expect(event.localStddev).toBeCloseTo((Z * CLIP) / Math.sqrt(n), 12);
    expect(event.localStddev / event.granularity).toBeGreaterThanOrEqual(0.5);
    expect(roundedL2Bound(CLIP / event.granularity, event.beta, event.dim)).toBeGreaterThan(CLIP / event.granularity);
    const accounted = { mechanism: 'ddg' as const, clip: event.clip, localStddev: event.localStddev, clients: event.clients, dim: event.dim, granularity: event.granularity, beta: event.beta, sampleRate: 1, count: 1 };
    const one = payloads[0]!.epsilonAfter;
    expect(one).toMatchObject({ accountant: 'rdp', pld: null });
    expect(Math.abs(one.epsilon - distributedDiscreteEpsilon([accounted], DELTA).epsilon)).toBeLessThan(1e-9 * one.epsilon);
    expect(Math.abs(one.epsilon - paperEpsilon(accounted, DELTA)) / one.epsilon).toBeLessThan(1e-9);
    // Two rounds compose: the second entry is the two-round ε, larger than one round's.
    expect(Math.abs(payloads[1]!.epsilonAfter.epsilon - distributedDiscreteEpsilon([{ ...accounted, count: 2 }], DELTA).epsilon)).toBeLessThan(1e-9 * one.epsilon);
    expect(payloads[1]!.epsilonAfter.epsilon).toBeGreaterThan(one.epsilon);
    // The auditor's independent recomputation agrees; the participants' ε is the federation's.
    const recomputed = recomputeLedger(payloads);
    expect(recomputed.firstBad).toBeNull();
    expect(recomputed.entries.at(-1)!.epsilon).toBeCloseTo(payloads[1]!.epsilonAfter.epsilon, 9);
    const audit = await buildAuditReport({
      federationId: fed.id, federationName: 'ddg', config: { privacy: parseFederationConfig(config).privacy }, payloads, sites: [], lineage: [],
      verification: { intact: true, keyPinned: true, keyFingerprint: 'fp', problems: [], notChecked: [] }, generatedMs: 0,
    });
    expect(audit.json['mechanisms']).toEqual([expect.objectContaining({ release: 'secure-sum', adjacency: 'zero-out', parameters: expect.objectContaining({ mechanism: 'ddg', clients: event.clients }) })]);
    expect(audit.html).toContain('distributed discrete Gaussian');
    const series = participantSeries(payloads);
    for (const site of fed.sites) expect(series.get(site.siteId)!.map((p) => p.epsilon)).toEqual(payloads.map((p) => expect.closeTo(p.epsilonAfter.epsilon, 9)));
    // The ledger's own per-participant view (participant list, GetLedger) composes the same events.
    expect(c.ledger.epsilon(PrivacyLedger.participantEvents(payloads, fed.sites[0]!.siteId), DELTA).epsilon).toBeCloseTo(payloads[1]!.epsilonAfter.epsilon, 9);

    // The acceptance: the CLI accountant on the ledger entry's parameters prints the ledger's ε.
    const out = await cli(['privacy', 'epsilon', '--mechanism', 'ddg', '--clip', String(event.clip), '--local-stddev', String(event.localStddev),
      '--clients-per-round', String(event.clients), '--dim', String(event.dim), '--granularity', String(event.granularity), '--beta', String(event.beta),
      '--sample-rate', '1', '--rounds', '1', '--delta', String(DELTA), '--json']);
    expect(out.code, out.stderr).toBe(0);
    expect(Math.abs((JSON.parse(out.stdout) as { epsilon: number }).epsilon - one.epsilon)).toBeLessThan(1e-9 * one.epsilon);
  }, 60_000);

  test('distributed DP without secure aggregation is refused: the config, and the CLI with exit 2', async () => {
    expect(() => parseFederationConfig(ddgConfig({ protection: { kind: 'none' } }))).toThrow(/distributed DP needs secure aggregation: without it each site's noised update reaches the coordinator; use --dp local for that/);
    expect(() => parseFederationConfig(ddgConfig())).not.toThrow();
    const out = await cli(['federation', 'create', '--model', 'mlp', '--sites-per-round', '4', '--dp', 'distributed', '--noise-multiplier', '1', '--clip', '1',
      '--coordinator', '127.0.0.1:1', '--token', 'x']);
    expect(out.code, out.stderr).toBe(2);
    expect(out.stderr).toMatch(/distributed DP needs secure aggregation/);
  }, 60_000);

  test('admission: the federation\'s budget stops it before the round that would pass it, and a site\'s own budget takes it out of the rounds', async () => {
    c = await inMemoryCoordinator();
    const n = 5;
    // One round's event, as the first round will charge it (all 5 sites eligible, E = 5).
    const probe = ddgConfig({ rounds: 1 });
    const { fed: f0 } = await runFederation(n, probe);
    const first = c.ledger.payloads(f0.id)[0]!.epsilonAfter.epsilon;
    const event = c.ledger.payloads(f0.id)[0]!.event as DdgDpEvent;
    const accounted = { mechanism: 'ddg' as const, clip: event.clip, localStddev: event.localStddev, clients: event.clients, dim: event.dim, granularity: event.granularity, beta: event.beta, sampleRate: 1, count: 2 };
    const two = distributedDiscreteEpsilon([accounted], DELTA).epsilon;

    const { fed } = await runFederation(n, ddgConfig({ rounds: 4, privacy: { ...ddgConfig().privacy!, budgetEpsilon: two * 1.0001 } }));
    expect(c.rounds.listRounds(fed.id).filter((r) => r.state === 'committed')).toHaveLength(2);
    expect(c.federations.get(fed.id).finishReason).toMatch(/budget/);
    expect(c.ledger.payloads(fed.id).at(-1)!.epsilonAfter.epsilon).toBeLessThanOrEqual(two * 1.0001);

    // Site 0 may spend one round: it is charged once, then left out; the others go on.
    const { fed: g } = await runFederation(n, ddgConfig({ rounds: 2 }), [first * 1.0001]);
    const payloads = c.ledger.payloads(g.id);
    expect(payloads).toHaveLength(2);
    const site0 = g.sites[0]!.siteId;
    expect(payloads[0]!.eligible.map((e) => e.siteId)).toContain(site0);
    expect(payloads[1]!.eligible.map((e) => e.siteId)).not.toContain(site0);
    const spent = c.ledger.epsilon(PrivacyLedger.participantEvents(payloads, site0), DELTA).epsilon;
    expect(spent).toBeLessThanOrEqual(first * 1.0001);
  }, 60_000);
});
