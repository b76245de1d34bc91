import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SITE_PRIVACY_STATE_FORMAT, SitePrivacyGuard, checkPlan, loadSiteReleases, parsePrivacyFloor, siteReleaseStd,
  type PrivacyFloorOptions,
} from '../../client-sdk/privacy-policy.ts';
import { ConclaveError, type DpPlanMsg, type ProtectionPlanMsg } from '../../protocols/index.ts';
import { chooseGranularity, distributedDiscreteEpsilon } from '../../crypto/dp/ddg.ts';

// --- an independent reference for the exact ε of a Gaussian (Balle & Wang 2018, Thm 8) ------------
// erfc by Simpson's rule on (2/√π)·e^{−x²}·∫₀^L e^{−2xu−u²} du: all terms positive, so the tail keeps
// its relative accuracy; nothing from crypto/dp is used.
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  const n = 20_000;
  const L = Math.min(8, 40 / (2 * x + 1e-300));
  const h = L / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const u = i * h;
    const w = i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2;
    s += w * Math.exp(-2 * x * u - u * u);
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * (s * h) / 3;
}
const Phi = (z: number): number => 0.5 * erfc(-z / Math.SQRT2);
/** δ(ε) of a μ-GDP mechanism, i.e. the Gaussian with noise multiplier 1/μ. */
const gdpDelta = (epsilon: number, mu: number): number => Phi(-epsilon / mu + mu / 2) - Math.exp(epsilon) * Phi(-epsilon / mu - mu / 2);
/** Largest μ with δ(ε) ≤ δ (δ grows with μ), by bisection. */
function referenceMaxMu(epsilon: number, delta: number): number {
  let lo = 1e-6;
  let hi = 100;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (gdpDelta(epsilon, mid) > delta) hi = mid;
    else lo = mid;
  }
  return lo;
}
/** Exact ε at δ of k releases at multiplier s: one Gaussian at s/√k, μ = √k/s. */
function referenceEpsilon(k: number, s: number, delta: number): number {
  const mu = Math.sqrt(k) / s;
  let lo = 0;
  let hi = 200;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (gdpDelta(mid, mu) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

function plan(overrides: Partial<DpPlanMsg> = {}): DpPlanMsg {
  const mode = overrides.mode ?? 'local';
  const clipNorm = overrides.clipNorm ?? 1;
  const noiseMultiplier = overrides.noiseMultiplier ?? 2;
  return {
    mode, clipNorm, noiseMultiplier, reportUnclipped: false, delta: 1e-5, granularity: 0, beta: 0, chargedClients: 0,
    siteNoiseStd: mode === 'central' ? 0 : noiseMultiplier * 2 * clipNorm,
    sampleRate: mode === 'central' ? 0.5 : 1,
    ...overrides,
  };
}

const floor = (options: PrivacyFloorOptions) => parsePrivacyFloor(options);

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConclaveError);
    expect((err as ConclaveError).code).toBe('INVALID_ARGUMENT');
    return (err as Error).message;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-site-privacy-'));
  dirs.push(dir);
  return dir;
}

it('the reference itself: erfc and δ(ε) against published values', () => {
  expect(Math.abs(erfc(1) - 0.15729920705028513) / 0.15729920705028513).toBeLessThan(1e-12);
  expect(Math.abs(erfc(4) - 1.541725790028002e-8) / 1.541725790028002e-8).toBeLessThan(1e-10);
  // dp_accounting test_gaussian_basic: σ = 1 at ε = 1 gives δ = 0.126936.
  expect(Math.abs(gdpDelta(1, 1) - 0.126936)).toBeLessThan(1e-6);
});

describe('parsePrivacyFloor (the edge)', () => {
  it('fills defaults: all modes; DP required exactly when a noise floor or a budget is set', () => {
    expect(floor({})).toEqual({ minNoiseMultiplier: null, maxClipNorm: null, budgetEpsilon: null, delta: null, requireDp: false, modes: ['central', 'distributed', 'local'], stateFile: null });
    expect(floor({ maxClipNorm: 1 }).requireDp).toBe(false);
    expect(floor({ minNoiseMultiplier: 1 }).requireDp).toBe(true);
    expect(floor({ budgetEpsilon: 2, delta: 1e-6 }).requireDp).toBe(true);
    expect(floor({ requireDp: true }).requireDp).toBe(true);
    expect(floor({ modes: ['local', 'local', 'distributed'] }).modes).toEqual(['local', 'distributed']);
  });

  it('names each field that is wrong', () => {
    expect(invalid(() => floor({ budgetEpsilon: 1 }))).toMatch(/delta: a site budget needs the site's delta/);
    expect(invalid(() => floor({ minNoiseMultiplier: -1 }))).toMatch(/minNoiseMultiplier/);
    expect(invalid(() => floor({ maxClipNorm: 0 }))).toMatch(/maxClipNorm/);
    expect(invalid(() => floor({ delta: 1 }))).toMatch(/delta/);
    expect(invalid(() => floor({ modes: [] }))).toMatch(/modes/);
    expect(invalid(() => floor({ modes: ['secure' as never] }))).toMatch(/modes/);
    expect(invalid(() => floor({ minNoiseMultiplier: 1, requireDp: false }))).toMatch(/requireDp/);
    expect(invalid(() => parsePrivacyFloor({ minNoise: 1 }))).toMatch(/minNoise/);
    expect(invalid(() => parsePrivacyFloor({ budgetEpsilon: Number.NaN, delta: 1e-5 }))).toMatch(/budgetEpsilon/);
    expect(invalid(() => parsePrivacyFloor({ budgetEpsilon: 1 }, (f) => `--flag-for-${f}`))).toMatch(/--flag-for-delta/);
  });
});

describe('checkPlan: every refusal reason', () => {
  const strict = floor({ minNoiseMultiplier: 1, maxClipNorm: 2, delta: 1e-5, modes: ['local', 'distributed'] });

  it('accepts a plan within the floor, charging a local release to the site (distributed: see "distributed DP" below)', () => {
    expect(checkPlan(strict, plan())).toEqual({ accept: true, charge: 2 });
    // Distributed DP without secure aggregation's plan would send the update with no noise at all.
    expect(checkPlan(strict, plan({ mode: 'distributed', noiseMultiplier: 1, clipNorm: 2 }))).toMatchObject({ accept: false, reason: 'inconsistent-plan' });
    // Central DP: the floors apply, the release is the coordinator's to account.
    expect(checkPlan(floor({ minNoiseMultiplier: 1 }), plan({ mode: 'central' }))).toEqual({ accept: true, charge: null });
  });

  it('dp-required: a round without DP when the site requires it', () => {
    expect(checkPlan(strict, null)).toMatchObject({ accept: false, reason: 'dp-required' });
    expect(checkPlan(floor({ requireDp: true }), null)).toMatchObject({ accept: false, reason: 'dp-required' });
    expect(checkPlan(floor({ maxClipNorm: 1 }), null)).toEqual({ accept: true, charge: null });
  });

  it('mode-not-allowed', () => {
    expect(checkPlan(strict, plan({ mode: 'central' }))).toMatchObject({ accept: false, reason: 'mode-not-allowed', message: expect.stringMatching(/central/) });
  });

  it('noise-below-floor', () => {
    expect(checkPlan(strict, plan({ noiseMultiplier: 0.99 }))).toMatchObject({ accept: false, reason: 'noise-below-floor', message: expect.stringMatching(/0\.99 is below this site's floor 1/) });
    expect(checkPlan(floor({ minNoiseMultiplier: 1 }), plan({ mode: 'central', noiseMultiplier: 0.5 }))).toMatchObject({ reason: 'noise-below-floor' });
    expect(checkPlan(strict, plan({ noiseMultiplier: 1 }))).toEqual({ accept: true, charge: 1 });
  });

  it('clip-above-max', () => {
    expect(checkPlan(strict, plan({ clipNorm: 2.5 }))).toMatchObject({ accept: false, reason: 'clip-above-max', message: expect.stringMatching(/2\.5, above this site's maximum clip norm 2/) });
    expect(checkPlan(floor({ maxClipNorm: 1 }), plan({ mode: 'central', clipNorm: 3 }))).toMatchObject({ reason: 'clip-above-max' });
  });

  it('delta-above-site-delta', () => {
    expect(checkPlan(strict, plan({ delta: 1e-4 }))).toMatchObject({ accept: false, reason: 'delta-above-site-delta' });
    expect(checkPlan(strict, plan({ delta: 1e-6 }))).toMatchObject({ accept: true });
  });

  it('inconsistent-plan: the site noise std does not match σ·2C, or the plan claims amplification it cannot have', () => {
    const p = plan({ noiseMultiplier: 2, clipNorm: 1 });
    expect(checkPlan(strict, { ...p, siteNoiseStd: 3.9 })).toMatchObject({ accept: false, reason: 'inconsistent-plan', message: expect.stringMatching(/site noise std 3\.9 does not match/) });
    expect(checkPlan(strict, { ...p, siteNoiseStd: 4.1 })).toMatchObject({ reason: 'inconsistent-plan' });
    expect(checkPlan(strict, { ...p, siteNoiseStd: 4 * (1 + 1e-12) })).toMatchObject({ accept: true });
    expect(checkPlan(strict, { ...p, sampleRate: 0.1 })).toMatchObject({ reason: 'inconsistent-plan', message: expect.stringMatching(/sample rate 1/) });
    expect(checkPlan(floor({}), plan({ noiseMultiplier: 0, siteNoiseStd: 1 }))).toMatchObject({ reason: 'inconsistent-plan' });
    expect(checkPlan(floor({}), plan({ mode: 'secagg' }))).toMatchObject({ reason: 'inconsistent-plan' });
    expect(checkPlan(floor({}), plan({ clipNorm: Number.NaN }))).toMatchObject({ reason: 'inconsistent-plan' });
    expect(checkPlan(floor({}), plan({ delta: 0 }))).toMatchObject({ reason: 'inconsistent-plan' });
    expect(checkPlan(floor({}), plan({ mode: 'central', sampleRate: 0 }))).toMatchObject({ reason: 'inconsistent-plan' });
  });

  it('the site adds max(siteNoiseStd, σ·2C) from the plan\'s numbers, never less', () => {
    expect(siteReleaseStd({ siteNoiseStd: 1, noiseMultiplier: 2, clipNorm: 0.5 })).toBe(2);
    expect(siteReleaseStd({ siteNoiseStd: 3, noiseMultiplier: 0.1, clipNorm: 1 })).toBe(3);
    expect(siteReleaseStd({ siteNoiseStd: Number.NaN, noiseMultiplier: 1, clipNorm: 1 })).toBe(2);
  });
});

describe('the site\'s own budget (site-budget-exhausted)', () => {
  const DELTA = 1e-5;

  function releasesUntilRefused(guard: SitePrivacyGuard, dp: DpPlanMsg, max = 10_000): { accepted: number; refusal: ReturnType<SitePrivacyGuard['decide']> } {
    for (let k = 0; k < max; k++) {
      const decision = guard.decide(dp);
      if (!decision.accept) return { accepted: k, refusal: decision };
      guard.charge({ federationId: 'f', roundId: `r${k}`, round: k + 1, noiseMultiplier: decision.charge! });
    }
    throw new Error('never refused');
  }

  it('k releases at σ compose to one Gaussian at σ/√k: the site stops after exactly the k the exact formula allows', () => {
    const s = 3;
    const eps = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => (k === 0 ? 0 : referenceEpsilon(k, s, DELTA)));
    // A budget half-way between ε after 5 and after 6 releases buys exactly 5.
    const budget = (eps[5]! + eps[6]!) / 2;
    const guard = new SitePrivacyGuard({ budgetEpsilon: budget, delta: DELTA });
    const { accepted, refusal } = releasesUntilRefused(guard, plan({ noiseMultiplier: s }));
    expect(accepted).toBe(5);
    expect(refusal).toMatchObject({ accept: false, reason: 'site-budget-exhausted', message: expect.stringMatching(/in 5 releases/) });
    const summary = guard.summary();
    expect(summary).toMatchObject({ releases: 5, budgetEpsilon: budget, delta: DELTA });
    expect(Math.abs(summary.epsilonSpent! - eps[5]!) / eps[5]!).toBeLessThan(1e-6);
  });

  it('a single release costing more than the budget is refused before anything is spent', () => {
    const guard = new SitePrivacyGuard({ budgetEpsilon: 0.5, delta: DELTA });
    const decision = guard.decide(plan({ noiseMultiplier: 1 }));
    expect(decision).toMatchObject({ accept: false, reason: 'site-budget-exhausted', message: expect.stringMatching(/one release .* costs ε=/) });
    expect(guard.summary().releases).toBe(0);
  });

  it('central DP is not charged to the site (it cannot see the rounds it was not sampled for)', () => {
    const guard = new SitePrivacyGuard({ budgetEpsilon: 0.01, delta: DELTA });
    expect(guard.decide(plan({ mode: 'central' }))).toEqual({ accept: true, charge: null });
  });

  it('property: the number of releases the site allows equals ⌊σ²·μ*²⌋ for the exact μ* of its (ε, δ)', () => {
    fc.assert(fc.property(
      fc.double({ min: 0.5, max: 4, noNaN: true }), fc.double({ min: 0.3, max: 4, noNaN: true }), fc.constantFrom(1e-5, 1e-7),
      (s, budget, delta) => {
        const k = s * s * referenceMaxMu(budget, delta) ** 2;
        fc.pre(Math.abs(k - Math.round(k)) > 1e-6);
        const guard = new SitePrivacyGuard({ budgetEpsilon: budget, delta });
        const { accepted, refusal } = releasesUntilRefused(guard, plan({ noiseMultiplier: s, delta }));
        expect(refusal).toMatchObject({ reason: 'site-budget-exhausted' });
        expect(accepted).toBe(Math.floor(k));
      },
    ), { numRuns: 15 });
  });

  it('property: whatever multipliers the coordinator picks, the exact ε of what the site released stays within its budget', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0.3, max: 6, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.double({ min: 0.5, max: 5, noNaN: true }),
      (multipliers, budget) => {
        const guard = new SitePrivacyGuard({ budgetEpsilon: budget, delta: DELTA });
        let mu2 = 0;
        for (const [i, s] of multipliers.entries()) {
          const decision = guard.decide(plan({ noiseMultiplier: s }));
          if (!decision.accept) {
            expect(decision.reason).toBe('site-budget-exhausted');
            continue;
          }
          guard.charge({ federationId: 'f', roundId: `r${i}`, round: i + 1, noiseMultiplier: s });
          mu2 += 1 / (s * s);
        }
        if (mu2 > 0) expect(gdpDelta(budget, Math.sqrt(mu2))).toBeLessThanOrEqual(DELTA * (1 + 1e-6));
      },
    ), { numRuns: 25 });
  });
});

describe('the privacy state file', () => {
  it('a restarted site keeps counting: releases are persisted atomically and validated on load', () => {
    const dir = tempDir();
    const stateFile = join(dir, 'site-privacy.json');
    const first = new SitePrivacyGuard({ budgetEpsilon: 3, delta: 1e-5, stateFile });
    first.charge({ federationId: 'fed', roundId: 'r1', round: 1, noiseMultiplier: 2 });
    first.charge({ federationId: 'fed', roundId: 'r2', round: 2, noiseMultiplier: 2.5 });
    const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(saved.format).toBe(SITE_PRIVACY_STATE_FORMAT);
    expect(saved.releases.map((r: { roundId: string; noiseMultiplier: number; sampleRate: number }) => [r.roundId, r.noiseMultiplier, r.sampleRate]))
      .toEqual([['r1', 2, 1], ['r2', 2.5, 1]]);
    expect(readdirSync(dir)).toEqual(['site-privacy.json']);
    const restarted = new SitePrivacyGuard({ budgetEpsilon: 3, delta: 1e-5, stateFile });
    expect(restarted.summary()).toEqual(first.summary());
    expect(restarted.summary().releases).toBe(2);
    expect(loadSiteReleases(join(dir, 'absent.json'))).toEqual([]);
  });

  it('a state file that is not valid is refused with a clear error, never silently reset', () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    const bad = (content: string) => {
      writeFileSync(file, content);
      return invalid(() => new SitePrivacyGuard({ stateFile: file }));
    };
    expect(bad('{not json')).toMatch(/not valid JSON.*restore it rather than deleting it/);
    expect(bad(JSON.stringify({ format: 'other/1', releases: [] }))).toMatch(/format/);
    const release = { federationId: 'f', roundId: 'r', round: 1, noiseMultiplier: 2, sampleRate: 1, atMs: 1 };
    expect(bad(JSON.stringify({ format: SITE_PRIVACY_STATE_FORMAT, releases: [{ ...release, noiseMultiplier: -1 }] }))).toMatch(/releases\.0\.noiseMultiplier/);
    expect(bad(JSON.stringify({ format: SITE_PRIVACY_STATE_FORMAT, releases: [{ ...release, sampleRate: 0.5 }] }))).toMatch(/sampleRate/);
    expect(bad(JSON.stringify({ format: SITE_PRIVACY_STATE_FORMAT, releases: [{ ...release, token: 'x' }] }))).toMatch(/token/);
  });

  it('when the release cannot be recorded, it is not charged in memory either, and the caller is told nothing was sent', () => {
    const dir = tempDir();
    const guard = new SitePrivacyGuard({ budgetEpsilon: 3, delta: 1e-5, stateFile: join(dir, 'missing-dir', 'state.json') });
    expect(() => guard.charge({ federationId: 'f', roundId: 'r', round: 1, noiseMultiplier: 2 })).toThrow(/cannot write the privacy state file.*nothing was sent/);
    expect(guard.summary().releases).toBe(0);
  });
});

describe('distributed DP (the discrete Gaussian inside secure aggregation): what the site checks itself', () => {
  const sites = 5;
  const dim = 1000;
  const C = 1;
  const z = 1;
  const std = (z * C) / Math.sqrt(sites);
  const beta = Math.exp(-0.5);
  const gamma = chooseGranularity({ clip: C, localStddev: std, beta, dim, sites });
  const ddgPlan = (o: Partial<DpPlanMsg> = {}) => plan({ mode: 'distributed', clipNorm: C, noiseMultiplier: std / (2 * C), granularity: gamma, beta, chargedClients: 3, ...o });
  const secagg = (o: { sites?: number; vectorLength?: number } = {}): ProtectionPlanMsg => ({
    protocol: 'secagg', stages: ['advertise-keys', 'share-keys', 'masked-input', 'unmask'], params: 'secagg',
    secagg: { sites: o.sites ?? sites, neighbours: 4, threshold: 3, graphSeed: Buffer.alloc(32), clip: C, scale: 1, maxSites: sites, vectorLength: o.vectorLength ?? dim + 1 },
  });
  const event = { mechanism: 'ddg' as const, clip: C, localStddev: std, clients: 3, dim, granularity: gamma, beta, sampleRate: 1, count: 1 };

  it('accepts a sound plan and charges the same DDG event the ledger records', () => {
    const d = checkPlan(floor({ minNoiseMultiplier: 0.1, modes: ['distributed'] }), ddgPlan(), secagg());
    expect(d).toMatchObject({ accept: true, charge: std / (2 * C) });
    expect((d as { ddg: unknown }).ddg).toEqual(event);
  });

  it('refuses a plan whose noise is below its floor, one without secure aggregation, and charged clients it cannot have', () => {
    expect(checkPlan(floor({ minNoiseMultiplier: 0.5 }), ddgPlan(), secagg())).toMatchObject({ accept: false, reason: 'noise-below-floor' });
    expect(checkPlan(floor({}), ddgPlan(), null)).toMatchObject({ accept: false, reason: 'inconsistent-plan' });
    expect(checkPlan(floor({}), ddgPlan({ chargedClients: 0 }), secagg())).toMatchObject({ accept: false, reason: 'inconsistent-plan' });
    expect(checkPlan(floor({}), ddgPlan({ chargedClients: 6 }), secagg())).toMatchObject({ accept: false, reason: 'inconsistent-plan' });
    // A std that does not match the multiplier it claims (the coordinator under-noising the sites).
    expect(checkPlan(floor({}), ddgPlan({ siteNoiseStd: std / 2 }), secagg())).toMatchObject({ accept: false, reason: 'inconsistent-plan' });
  });

  it('refuses a granularity with which the sum of the round\'s sites could wrap the 32-bit ring', () => {
    // Fine enough for 5 sites, not for 5,000 of them in one sum.
    expect(checkPlan(floor({}), ddgPlan({ granularity: gamma / 1000 }), secagg())).toMatchObject({ accept: true });
    const wraps = checkPlan(floor({}), ddgPlan({ granularity: gamma / 1000 }), secagg({ sites: 5000 }));
    expect(wraps).toMatchObject({ accept: false, reason: 'inconsistent-plan', message: expect.stringMatching(/bits/) });
    // A grid finer than σ/2 breaks the discrete Gaussian's sum bound.
    expect(checkPlan(floor({}), ddgPlan({ granularity: std * 3 }), secagg())).toMatchObject({ accept: false, reason: 'inconsistent-plan' });
  });

  it('charges DDG rounds against its own budget (RDP with its Gaussian releases) and refuses the round that would pass it', () => {
    const budget = distributedDiscreteEpsilon([{ ...event, count: 3 }], 1e-5).epsilon * 1.0001;
    const guard = new SitePrivacyGuard({ budgetEpsilon: budget, delta: 1e-5 });
    for (let i = 1; i <= 3; i++) {
      const d = guard.decide(ddgPlan(), secagg());
      expect(d.accept).toBe(true);
      const { ddg } = d as { ddg: typeof event };
      guard.charge({ federationId: 'f', roundId: `r${i}`, round: i, noiseMultiplier: std / (2 * C), ddg });
    }
    expect(guard.summary().epsilonSpent).toBeCloseTo(distributedDiscreteEpsilon([{ ...event, count: 3 }], 1e-5).epsilon, 9);
    expect(guard.decide(ddgPlan(), secagg())).toMatchObject({ accept: false, reason: 'site-budget-exhausted' });
  });

  it('keeps its DDG releases in the state file across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddg-floor-'));
    try {
      const stateFile = join(dir, 'state.json');
      const guard = new SitePrivacyGuard({ budgetEpsilon: 1000, delta: 1e-5, stateFile });
      guard.charge({ federationId: 'f', roundId: 'r1', round: 1, noiseMultiplier: std / (2 * C), ddg: event });
      const again = new SitePrivacyGuard({ budgetEpsilon: 1000, delta: 1e-5, stateFile });
      expect(again.summary().epsilonSpent).toBeCloseTo(distributedDiscreteEpsilon([event], 1e-5).epsilon, 9);
      expect(loadSiteReleases(stateFile)[0]!.ddg).toEqual(event);
      // An edited release that no accountant accepts stops the site instead of being counted as free.
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { releases: Array<{ ddg: { granularity: number } }> };
      state.releases[0]!.ddg.granularity = 1;
      writeFileSync(stateFile, JSON.stringify(state));
      expect(() => loadSiteReleases(stateFile)).toThrow(/malformed distributed DP release.*restore it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
