/**
 * A site's own privacy floor: under local and distributed DP the site does not trust the
 * coordinator, so it checks every round plan against bounds it chose itself, adds noise from its
 * own checked numbers, and keeps its own account of what it released.
 *
 * What this module guarantees, for a site that runs with a floor:
 * - It never trains or sends for a plan below the floor (noise multiplier, clip norm, δ, mode, DP at
 *   all), nor for a local/distributed plan whose noise std does not match the multiplier it claims.
 * - Under local/distributed DP every update it sends is a Gaussian release at L2 sensitivity 2C
 *   (replacing the site's data moves its clipped update by up to 2C) with std ≥ σ·2C, and it is
 *   charged to the site's accountant before it is sent: a release that may have reached the
 *   coordinator counts even if the upload fails.
 * - The site stops before a release that would take it over its own (ε, δ) budget. At sampling rate 1
 *   (the coordinator knows who was sampled) k adaptively chosen Gaussian releases with multipliers σᵢ
 *   are exactly one Gaussian with multiplier (Σ σᵢ⁻²)^(-1/2) (Dong, Roth & Su 2019, GDP composition),
 *   whose ε at δ is exact (Balle & Wang 2018, Thm 8). Stopping once that sum would pass the budget is
 *   a filter: it stays sound when the coordinator picks each σᵢ after seeing earlier releases (Smith &
 *   Thakurta, "Fully Adaptive Composition for Gaussian DP", 2022), the same role the Rényi filter plays
 *   in the coordinator's admission control, with no slack from an RDP conversion.
 * - Whether a site refuses depends only on the plan and on its past releases, never on its data, so
 *   a refusal releases nothing.
 * - Under distributed DP (secure aggregation only) the site sends its clipped update encoded with
 *   discrete Gaussian noise inside the masked sum (crypto/dp/ddg.ts). It checks what it can itself:
 *   its noise std (as above), that the plan's granularity keeps the sum of the round's sites inside
 *   the 32-bit ring (assertNoWrap), and it charges its own accountant the same DDG event the ledger
 *   records (charged clients, zero-out adjacency, rate 1), composed with its Gaussian releases in
 *   RDP (the DDG bound has no GDP form), refusing a round that would pass its budget. The charged
 *   clients are the coordinator's word; the site holds it to them at unmask (it refuses to reveal
 *   shares for fewer survivors), and a malicious coordinator that drops honest sites from the sum
 *   is the residual trust of distributed DP (as in the paper).
 * Under central DP the coordinator adds the noise and the site relies on its ledger (the site cannot
 * observe the rounds it was not sampled for), but the noise and clip floors still apply.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { gaussianEpsilon } from '../crypto/dp/index.ts';
import { assertNoWrap, distributedDiscreteEpsilon, validateDistributedDiscreteEvent, type DistributedDiscreteEvent } from '../crypto/dp/ddg.ts';
import { ConclaveError, type DpPlanMsg, type ProtectionPlanMsg } from '../protocols/index.ts';

export const DP_MODES = ['central', 'distributed', 'local'] as const;
export type DpMode = (typeof DP_MODES)[number];

/** What an SDK user passes as `privacyFloor`; every bound is optional, and absent bounds do not bind. */
export interface PrivacyFloorOptions {
  /** Refuse plans whose noise multiplier (what the ledger charges, see DpPlan.noise_multiplier) is below this. */
  minNoiseMultiplier?: number;
  /** Refuse plans that clip to a larger L2 norm than this. */
  maxClipNorm?: number;
  /** The site's own ε budget for what it releases under local/distributed DP, at `delta`. */
  budgetEpsilon?: number;
  /** The site's δ: plans with a larger δ are refused, and the budget is measured at it. */
  delta?: number;
  /** Refuse rounds without DP. Default: true when a noise floor or a budget is set, else false. */
  requireDp?: boolean;
  /** DP modes the site takes part in. Default: all three. */
  modes?: DpMode[];
  /** Where the site's released events are kept across restarts (written atomically); default: memory only. */
  stateFile?: string;
}

/** The validated floor. */
export interface PrivacyFloor {
  minNoiseMultiplier: number | null;
  maxClipNorm: number | null;
  budgetEpsilon: number | null;
  delta: number | null;
  requireDp: boolean;
  modes: readonly DpMode[];
  stateFile: string | null;
}

const privacyFloorSchema = z.object({
  minNoiseMultiplier: z.number().positive().max(1e4).optional(),
  maxClipNorm: z.number().positive().max(1e6).optional(),
  budgetEpsilon: z.number().positive().max(1e6).optional(),
  delta: z.number().gt(0).lt(1).optional(),
  requireDp: z.boolean().optional(),
  modes: z.array(z.enum(DP_MODES)).min(1).optional(),
  stateFile: z.string().min(1).optional(),
}).strict()
  .refine((f) => f.budgetEpsilon === undefined || f.delta !== undefined, {
    message: 'a site budget needs the site\'s delta (the budget is (ε, δ))', path: ['delta'],
  })
  .refine((f) => f.requireDp !== false || (f.minNoiseMultiplier === undefined && f.budgetEpsilon === undefined), {
    message: 'a noise floor or a budget means nothing if rounds without DP are accepted; drop requireDp: false', path: ['requireDp'],
  })
  .transform((f): PrivacyFloor => ({
    minNoiseMultiplier: f.minNoiseMultiplier ?? null,
    maxClipNorm: f.maxClipNorm ?? null,
    budgetEpsilon: f.budgetEpsilon ?? null,
    delta: f.delta ?? null,
    requireDp: f.requireDp ?? (f.minNoiseMultiplier !== undefined || f.budgetEpsilon !== undefined),
    modes: f.modes ? [...new Set(f.modes)] : DP_MODES,
    stateFile: f.stateFile ?? null,
  }));

/**
 * Validates a floor at the edge; INVALID_ARGUMENT names every field that was wrong, through
 * `nameOf` when the caller knows them by other names (the CLI's flags).
 */
export function parsePrivacyFloor(raw: unknown, nameOf: (field: string) => string = (field) => field): PrivacyFloor {
  const parsed = privacyFloorSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? nameOf(String(i.path[0])) : 'privacy floor'}: ${i.message}`).join('; ');
    throw new ConclaveError('INVALID_ARGUMENT', `invalid privacy floor: ${issues}`);
  }
  return parsed.data;
}

export type RefusalReason =
  | 'dp-required'
  | 'mode-not-allowed'
  | 'noise-below-floor'
  | 'clip-above-max'
  | 'delta-above-site-delta'
  | 'inconsistent-plan'
  | 'site-budget-exhausted';

export type PlanDecision =
  /**
   * `charge`: the multiplier this round's release costs the site's own accountant (local/distributed);
   * `ddg`: under distributed DP, the discrete Gaussian round it is charged as instead.
   */
  | { accept: true; charge: number | null; ddg?: DistributedDiscreteEvent }
  | { accept: false; reason: RefusalReason; message: string };

/** Relative slack for the std the coordinator sends against σ·2C the site recomputes (float rounding only). */
const STD_TOLERANCE = 1e-9;

function refuse(reason: RefusalReason, message: string): PlanDecision {
  return { accept: false, reason, message };
}

const isMode = (m: string): m is DpMode => (DP_MODES as readonly string[]).includes(m);

/**
 * The stateless half of the floor: does this plan meet the site's bounds, and is it self-consistent?
 * Pure, so every refusal reason can be tested without a coordinator.
 */
export function checkPlan(floor: PrivacyFloor, dp: DpPlanMsg | null, protection?: ProtectionPlanMsg | null): PlanDecision {
  if (!dp) {
    return floor.requireDp ? refuse('dp-required', 'the round has no differential privacy and this site requires it') : { accept: true, charge: null };
  }
  if (!isMode(dp.mode)) return refuse('inconsistent-plan', `the plan names an unknown DP mode "${dp.mode}"`);
  if (!floor.modes.includes(dp.mode)) {
    return refuse('mode-not-allowed', `the round uses ${dp.mode} DP; this site takes part only in ${floor.modes.join(', ')} DP`);
  }
  if (!(dp.clipNorm > 0) || !Number.isFinite(dp.clipNorm)) return refuse('inconsistent-plan', `the plan's clip norm ${dp.clipNorm} is not a positive number`);
  if (floor.maxClipNorm !== null && dp.clipNorm > floor.maxClipNorm) {
    return refuse('clip-above-max', `the plan clips to ${dp.clipNorm}, above this site's maximum clip norm ${floor.maxClipNorm}`);
  }
  if (!(dp.noiseMultiplier >= 0) || !Number.isFinite(dp.noiseMultiplier)) {
    return refuse('inconsistent-plan', `the plan's noise multiplier ${dp.noiseMultiplier} is not a finite number ≥ 0`);
  }
  if (floor.minNoiseMultiplier !== null && dp.noiseMultiplier < floor.minNoiseMultiplier) {
    return refuse('noise-below-floor', `the plan's noise multiplier ${dp.noiseMultiplier} is below this site's floor ${floor.minNoiseMultiplier}`);
  }
  if (!(dp.delta > 0 && dp.delta < 1)) return refuse('inconsistent-plan', `the plan's delta ${dp.delta} is not in (0, 1)`);
  if (floor.delta !== null && dp.delta > floor.delta) {
    return refuse('delta-above-site-delta', `the plan's delta ${dp.delta} is above this site's delta ${floor.delta}`);
  }
  if (dp.mode === 'central') {
    if (!(dp.sampleRate > 0 && dp.sampleRate <= 1)) return refuse('inconsistent-plan', `the plan's sample rate ${dp.sampleRate} is not in (0, 1]`);
    return { accept: true, charge: null };
  }
  // Local/distributed: the coordinator knows who was sampled, so nothing amplifies the site's release.
  if (dp.sampleRate !== 1) {
    return refuse('inconsistent-plan', `a ${dp.mode} DP plan must account the site's release at sample rate 1, not ${dp.sampleRate}`);
  }
  const claimed = dp.noiseMultiplier * 2 * dp.clipNorm;
  if (!(dp.noiseMultiplier > 0) || !(Math.abs(dp.siteNoiseStd - claimed) <= STD_TOLERANCE * claimed)) {
    return refuse('inconsistent-plan',
      `the plan's site noise std ${dp.siteNoiseStd} does not match its noise multiplier × 2 × clip norm = ${claimed}`);
  }
  if (dp.mode === 'distributed') return checkDistributed(dp, protection ?? null);
  return { accept: true, charge: dp.noiseMultiplier };
}

/** The discrete Gaussian part of a distributed plan: the event the site charges itself, if it is sound. */
function checkDistributed(dp: DpPlanMsg, protection: ProtectionPlanMsg | null): PlanDecision {
  if (protection?.params !== 'secagg') return refuse('inconsistent-plan', 'a distributed DP round without secure aggregation would send this site\'s update with no noise the coordinator cannot see');
  const { sites, vectorLength } = protection.secagg;
  if (!(dp.chargedClients >= 1 && dp.chargedClients <= sites)) return refuse('inconsistent-plan', `the plan charges ${dp.chargedClients} clients of ${sites} sites`);
  let ddg: DistributedDiscreteEvent;
  const localStddev = siteReleaseStd(dp);
  try {
    ddg = validateDistributedDiscreteEvent({
      mechanism: 'ddg', clip: dp.clipNorm, localStddev, clients: dp.chargedClients, dim: vectorLength - 1,
      granularity: dp.granularity, beta: dp.beta, sampleRate: 1, count: 1,
    });
    assertNoWrap({ mechanism: 'ddg', clip: dp.clipNorm, localStddev, granularity: dp.granularity, beta: dp.beta, dim: vectorLength - 1, sites });
  } catch (e) {
    return refuse('inconsistent-plan', `the plan's discrete Gaussian is unsound: ${(e as Error).message}`);
  }
  return { accept: true, charge: dp.noiseMultiplier, ddg };
}

/**
 * Std of the Gaussian noise a site adds under local/distributed DP: never less than what the plan's
 * noise multiplier claims at sensitivity 2C, whichever of the plan's two numbers is larger.
 */
export function siteReleaseStd(dp: Pick<DpPlanMsg, 'siteNoiseStd' | 'noiseMultiplier' | 'clipNorm'>): number {
  const fromMultiplier = dp.noiseMultiplier * 2 * dp.clipNorm;
  return Math.max(Number.isFinite(dp.siteNoiseStd) ? dp.siteNoiseStd : 0, Number.isFinite(fromMultiplier) ? fromMultiplier : 0);
}

/** One update this site sent (or may have sent) under local/distributed DP. No data, no secrets. */
export interface SiteRelease {
  federationId: string;
  roundId: string;
  round: number;
  /** std ÷ (2 · clip norm) of the release; sampling rate 1. */
  noiseMultiplier: number;
  /** Distributed DP: the discrete Gaussian round this release is accounted as (noiseMultiplier is then informative only). */
  ddg?: DistributedDiscreteEvent;
  atMs: number;
}

/**
 * The site's own account of its releases: exact GDP composition at sampling rate 1 (see the header).
 * Releases from every federation the site's data went to count: it is the same data.
 */
export class SiteReleaseAccountant {
  readonly #releases: SiteRelease[] = [];
  /** μ² = Σ σᵢ⁻² of the composed Gaussian releases. */
  #mu2 = 0;
  readonly #ddg: DistributedDiscreteEvent[] = [];

  constructor(releases: readonly SiteRelease[] = []) {
    for (const r of releases) this.add(r);
  }

  get releases(): readonly SiteRelease[] {
    return this.#releases;
  }

  add(release: SiteRelease): void {
    if (!(release.noiseMultiplier > 0) || !Number.isFinite(release.noiseMultiplier)) {
      throw new ConclaveError('INVALID_ARGUMENT', `a release needs a positive finite noise multiplier, got ${release.noiseMultiplier}`);
    }
    if (release.ddg) this.#ddg.push(validateDistributedDiscreteEvent(release.ddg));
    this.#releases.push(release);
    if (!release.ddg) this.#mu2 += 1 / (release.noiseMultiplier * release.noiseMultiplier);
  }

  /** ε at δ of everything released so far (0 before the first release): exact while all are Gaussian. */
  epsilon(delta: number): number {
    return this.#epsilon(this.#mu2, this.#ddg, delta);
  }

  /** ε at δ once one more release (a Gaussian multiplier, or a DDG round) is added. */
  epsilonAfter(next: number | DistributedDiscreteEvent, delta: number): number {
    return typeof next === 'number' ? this.#epsilon(this.#mu2 + 1 / (next * next), this.#ddg, delta) : this.#epsilon(this.#mu2, [...this.#ddg, next], delta);
  }

  #epsilon(mu2: number, ddg: readonly DistributedDiscreteEvent[], delta: number): number {
    if (ddg.length === 0) return mu2 === 0 ? 0 : gaussianEpsilon(1 / Math.sqrt(mu2), delta);
    // The Gaussian releases compose to one of multiplier μ^(-1/2) (GDP, exact), then RDP with the DDG rounds.
    const gaussian = mu2 === 0 ? [] : [{ noiseMultiplier: 1 / Math.sqrt(mu2), sampleRate: 1, count: 1 }];
    return distributedDiscreteEpsilon(ddg, delta, { gaussian }).epsilon;
  }
}

export interface PrivacySummary {
  releases: number;
  /** ε spent at the site's δ; null without a site δ. */
  epsilonSpent: number | null;
  budgetEpsilon: number | null;
  delta: number | null;
}

/**
 * The floor and the accountant together, as the Participant uses them: `decide` before training,
 * `charge` after privatizing and before sending.
 */
export class SitePrivacyGuard {
  readonly floor: PrivacyFloor;
  readonly #accountant: SiteReleaseAccountant;

  constructor(options: PrivacyFloorOptions) {
    this.floor = parsePrivacyFloor(options);
    this.#accountant = new SiteReleaseAccountant(this.floor.stateFile ? loadSiteReleases(this.floor.stateFile) : []);
  }

  decide(dp: DpPlanMsg | null, protection?: ProtectionPlanMsg | null): PlanDecision {
    const decision = checkPlan(this.floor, dp, protection);
    if (!decision.accept || decision.charge === null || this.floor.budgetEpsilon === null) return decision;
    const { budgetEpsilon, delta } = this.floor;
    const after = this.#accountant.epsilonAfter(decision.ddg ?? decision.charge, delta!);
    if (after <= budgetEpsilon) return decision;
    const spent = this.#accountant.releases.length;
    return refuse('site-budget-exhausted', spent === 0
      ? `one release at noise multiplier ${decision.charge.toPrecision(4)} costs ε=${after.toFixed(4)}, more than this site's budget ε=${budgetEpsilon} at δ=${delta}`
      : `this site spent ε=${this.#accountant.epsilon(delta!).toFixed(4)} in ${spent} releases; one more at noise multiplier ${decision.charge.toPrecision(4)} would make ε=${after.toFixed(4)}, over its budget ε=${budgetEpsilon} at δ=${delta}`);
  }

  /** Records a release, durably when there is a state file, before the update leaves the site. */
  charge(release: Omit<SiteRelease, 'atMs'>): PrivacySummary {
    const next = new SiteReleaseAccountant(this.#accountant.releases);
    next.add({ ...release, atMs: Date.now() });
    if (this.floor.stateFile) saveSiteReleases(this.floor.stateFile, next.releases);
    this.#accountant.add(next.releases.at(-1)!);
    return this.summary();
  }

  summary(): PrivacySummary {
    const { delta, budgetEpsilon } = this.floor;
    return { releases: this.#accountant.releases.length, epsilonSpent: delta === null ? null : this.#accountant.epsilon(delta), budgetEpsilon, delta };
  }
}

// --- the state file: the site's spent events, validated on load, replaced atomically ---------------

export const SITE_PRIVACY_STATE_FORMAT = 'conclave-site-privacy/1';

const stateSchema = z.object({
  format: z.literal(SITE_PRIVACY_STATE_FORMAT),
  releases: z.array(z.object({
    federationId: z.string().max(200),
    roundId: z.string().max(200),
    round: z.number().int().min(0),
    noiseMultiplier: z.number().positive().max(1e6),
    ddg: z.object({
      mechanism: z.literal('ddg'), clip: z.number(), localStddev: z.number(), clients: z.number(), dim: z.number(),
      granularity: z.number(), beta: z.number(), sampleRate: z.literal(1), count: z.literal(1),
    }).strict().optional(),
    sampleRate: z.literal(1),
    atMs: z.number().int().min(0),
  }).strict()).max(1_000_000),
}).strict();

export function loadSiteReleases(path: string): SiteRelease[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConclaveError('INVALID_ARGUMENT', `cannot read the privacy state file ${path}: ${(err as Error).message}`);
  }
  // What the site already released must not silently reset: a broken file stops the site.
  const keep = 'it records what this site already released; restore it rather than deleting it';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConclaveError('INVALID_ARGUMENT', `the privacy state file ${path} is not valid JSON (${(err as Error).message}); ${keep}`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ');
    throw new ConclaveError('INVALID_ARGUMENT', `the privacy state file ${path} is not a ${SITE_PRIVACY_STATE_FORMAT} file (${issues}); ${keep}`);
  }
  parsed.data.releases.forEach((r, i) => {
    if (!r.ddg) return;
    try {
      validateDistributedDiscreteEvent(r.ddg, i);
    } catch (err) {
      throw new ConclaveError('INVALID_ARGUMENT', `the privacy state file ${path} has a malformed distributed DP release (${(err as Error).message}); ${keep}`);
    }
  });
  return parsed.data.releases.map(({ sampleRate: _q, ...r }) => r);
}

export function saveSiteReleases(path: string, releases: readonly SiteRelease[]): void {
  const body = { format: SITE_PRIVACY_STATE_FORMAT, releases: releases.map((r) => ({ ...r, sampleRate: 1 })) };
  writeFileAtomically(path, JSON.stringify(body, null, 1) + '\n');
}

/** temp file in the same directory, fsync, rename over the old one, fsync the directory. */
function writeFileAtomically(path: string, text: string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = Buffer.from(text, 'utf8');
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch { /* never created, or already renamed */ }
    throw new ConclaveError('INTERNAL', `cannot write the privacy state file ${path}: ${(err as Error).message}; nothing was sent`);
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch { /* directories cannot be fsynced on every platform; the rename itself is atomic */ }
}
