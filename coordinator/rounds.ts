import { EventEmitter } from 'node:events';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { ConclaveError, type TensorSpec } from '../protocols/index.ts';
import type { Store } from './store.ts';
import type { ModelRegistry } from './model-registry.ts';
import type { AggregationStrategy, RoundAccumulator } from './aggregation/strategy.ts';
import type { FederationConfig, PrivacyConfig } from './federation-config.ts';
import type { Logger } from './logger.ts';
import { PrivacyLedger, type Candidate, type DpEvent, type LedgerPayload, type StoredEntry } from './privacy/ledger.ts';
import { DpFedAvg } from './aggregation/dp-fedavg.ts';
import { adaptiveClipEffectiveNoiseMultiplier, noisedUnclippedFraction, siteNoiseStd, updateClipNorm } from '../crypto/dp/index.ts';

export type RoundState = 'open' | 'collecting' | 'committed' | 'aborted';

export interface RoundRecord {
  id: string;
  federationId: string;
  number: number;
  state: RoundState;
  baseVersion: number;
  resultVersion: number | null;
  selectedSites: string[];
  submittedSites: string[];
  seed: number;
  openedMs: number;
  deadlineMs: number;
  closedMs: number | null;
  abortReason: string | null;
  totalExamples: number;
  privacy: RoundPrivacy | null;
}

/** The DP parameters fixed when the round opened; sites get the site-side part in their plan. */
export interface RoundPrivacy {
  mode: PrivacyConfig['mode'];
  configuredNoiseMultiplier: number;
  clipNorm: number;
  expectedSites: number;
  siteNoiseStd: number;
  /**
   * What the ledger charges, fixed before anything is released and independent of who turns up:
   * central, the noise on the sum ÷ C (with the adaptive-clipping count composed in); local and
   * distributed, each site's own release ÷ its sensitivity 2C.
   */
  chargedNoiseMultiplier: number;
  /** Each eligible site's Poisson sampling rate. */
  sampling: Array<{ siteId: string; sampleRate: number }>;
  /** The same sites with the rate the accountant uses (1 where the coordinator sees who was sampled). */
  eligible: Array<{ siteId: string; sampleRate: number }>;
  adaptiveClip: PrivacyConfig['adaptiveClip'];
  delta: number;
}

/**
 * Where a mode's release happens. Central: the coordinator is the trusted curator and only the
 * noised aggregate leaves it, at commit. Local and distributed (without secure aggregation): each
 * site's noised update reaches the coordinator, which is the adversary, as soon as it is sent.
 */
export function releasesAtSite(mode: PrivacyConfig['mode']): boolean {
  return mode !== 'central';
}

interface RoundRow {
  id: string; federation_id: string; number: number; state: RoundState; base_version: number; result_version: number | null;
  selected_json: string; seed: number; opened_ms: number; deadline_ms: number; closed_ms: number | null; abort_reason: string | null;
  total_examples: number; privacy_json: string | null;
}

/** A verified update as it leaves the collect stage: the tensor passed layout, finiteness and digest checks. */
export interface VerifiedUpdate {
  siteId: string;
  numExamples: number;
  values: Float32Array;
  sha256: Buffer;
  trainLoss: number;
  trainAccuracy: number;
  unclipped: boolean;
}

/**
 * Coordinator half of a protection mechanism: turns what sites submitted back into deltas the
 * strategy can fold. `none` is the identity; secure aggregation and CKKS replace it without the
 * rest of the round changing.
 */
export interface UnprotectStage {
  readonly name: string;
  accept(update: VerifiedUpdate, accumulator: RoundAccumulator): void;
}

export const noProtection: UnprotectStage = {
  name: 'none',
  accept(update, accumulator) {
    accumulator.add(update.values, update.numExamples);
  },
};

interface ActiveRound {
  record: RoundRecord;
  config: FederationConfig;
  layout: TensorSpec[];
  base: Float32Array;
  accumulator: RoundAccumulator;
  unprotect: UnprotectStage;
  inFlight: Set<string>;
  timer: NodeJS.Timeout;
  closing: boolean;
  unclippedCount: number;
}

export interface FederationView {
  id: string;
  config: FederationConfig;
  status: 'created' | 'running' | 'finished';
}

/** How long a site counts as available after its last poll; sites long-poll every few seconds. */
const AVAILABILITY_WINDOW_MS = 15_000;
const SCHEDULER_TICK_MS = 100;
const SMALL_SAMPLE_RETRY_MS = 1000;
/** How soon admission looks at a ledger again after it failed to verify. */
const LEDGER_RECHECK_MS = 5000;

/**
 * The round state machine: open → collecting → committed | aborted, each transition persisted
 * before it takes effect. One active round per federation. Rounds read top to bottom as the
 * pipeline in ARCHITECTURE.md: select → publish plan → collect → unprotect → finalize → commit.
 */
export class RoundManager extends EventEmitter {
  private readonly store: Store;
  private readonly registry: ModelRegistry;
  private readonly strategy: AggregationStrategy;
  private readonly log: Logger;
  private readonly active = new Map<string, ActiveRound>();
  private readonly lastSeen = new Map<string, number>();
  private readonly waitingSince = new Map<string, number>();
  /** Sites admission control has excluded: budgets only get spent, so they never come back. */
  private readonly outOfBudget = new Map<string, Set<string>>();
  /** After a Poisson sample came out below the quorum, the next draw waits a little instead of spinning. */
  private readonly nextDrawAfter = new Map<string, number>();
  private readonly getFederation: (id: string) => FederationView;
  private readonly markFinished: (id: string, reason: string) => void;
  readonly ledger: PrivacyLedger;
  private tick: NodeJS.Timeout | null = null;
  /** Federations whose next round is being planned (admission verifies and signs, which is async). */
  private readonly planning = new Set<string>();

  constructor(deps: {
    store: Store; registry: ModelRegistry; strategy: AggregationStrategy; log: Logger; ledger: PrivacyLedger;
    getFederation: (id: string) => FederationView; markFinished: (id: string, reason: string) => void;
  }) {
    super();
    this.setMaxListeners(0);
    this.store = deps.store;
    this.registry = deps.registry;
    this.strategy = deps.strategy;
    this.log = deps.log;
    this.getFederation = deps.getFederation;
    this.markFinished = deps.markFinished;
    this.ledger = deps.ledger;
  }

  /**
   * After a crash, collected updates lived only in memory, so a round that was open or collecting
   * cannot be finished honestly: it is aborted and the scheduler opens a fresh one on the same model.
   */
  recover(): number {
    const now = Date.now();
    const result = this.store.db.prepare(`UPDATE rounds SET state = 'aborted', closed_ms = ?, abort_reason = ?
      WHERE state IN ('open', 'collecting')`).run(now, 'coordinator restarted while the round was in progress');
    return Number(result.changes);
  }

  start(): void {
    this.tick = setInterval(() => this.schedule(), SCHEDULER_TICK_MS);
    this.tick.unref();
  }

  stop(): void {
    if (this.tick) clearInterval(this.tick);
    for (const round of this.active.values()) clearTimeout(round.timer);
    this.active.clear();
  }

  markSeen(siteId: string): void {
    this.lastSeen.set(siteId, Date.now());
  }

  activeRound(federationId: string): RoundRecord | null {
    return this.active.get(federationId)?.record ?? null;
  }

  /** The plan for this site if it was selected for the active round and has not submitted yet. */
  pendingRoundFor(federationId: string, siteId: string): RoundRecord | null {
    const round = this.active.get(federationId);
    if (!round || round.record.state !== 'collecting' || round.closing) return null;
    if (!round.record.selectedSites.includes(siteId)) return null;
    if (round.record.submittedSites.includes(siteId) || round.inFlight.has(siteId)) return null;
    return round.record;
  }

  /**
   * A site's training seed for a round, from the federation seed, the round number and the site's
   * name (not its random id), so a seeded simulation trains the same way every time it is run.
   */
  siteSeed(round: RoundRecord, siteId: string): number {
    const row = this.store.db.prepare('SELECT name FROM sites WHERE id = ?').get(siteId) as { name: string } | undefined;
    const digest = createHash('sha256').update(`${round.seed}:${round.number}:${row?.name ?? siteId}`).digest();
    return digest.readUIntBE(0, 6);
  }

  getRound(roundId: string): RoundRecord | null {
    const row = this.store.db.prepare('SELECT * FROM rounds WHERE id = ?').get(roundId) as RoundRow | undefined;
    return row ? this.fromRow(row) : null;
  }

  listRounds(federationId: string): RoundRecord[] {
    const rows = this.store.db.prepare('SELECT * FROM rounds WHERE federation_id = ? ORDER BY number').all(federationId) as unknown as RoundRow[];
    return rows.map((r) => this.fromRow(r));
  }

  committedRounds(federationId: string): number {
    const row = this.store.db.prepare(`SELECT COUNT(*) AS n FROM rounds WHERE federation_id = ? AND state = 'committed'`).get(federationId) as { n: number };
    return row.n;
  }

  // --- collect ---------------------------------------------------------------------------------

  /** Reserves the site's slot before its upload streams in, so two concurrent uploads cannot both count. */
  beginSubmission(federationId: string, siteId: string, roundId: string, numExamples: number): { layout: TensorSpec[]; release: () => void } {
    const round = this.active.get(federationId);
    if (!round || round.record.id !== roundId) {
      const stored = this.getRound(roundId);
      if (!stored || stored.federationId !== federationId) throw new ConclaveError('NOT_FOUND', `round ${roundId} does not exist in this federation`);
      if (stored.submittedSites.includes(siteId)) throw new ConclaveError('DUPLICATE_SUBMISSION', `site already submitted an update for round ${stored.number}`);
      throw new ConclaveError('ROUND_CLOSED', `round ${stored.number} is ${stored.state}; updates are no longer accepted`);
    }
    if (round.record.state !== 'collecting' || round.closing) {
      throw new ConclaveError('ROUND_CLOSED', `round ${round.record.number} is closing; updates are no longer accepted`);
    }
    if (!round.record.selectedSites.includes(siteId)) throw new ConclaveError('NOT_SELECTED', `site was not selected for round ${round.record.number}`);
    if (numExamples < 1 && !round.record.privacy) {
      throw new ConclaveError('INVALID_ARGUMENT', 'numExamples must be at least 1: FedAvg weights updates by it (only DP rounds accept 0 = withheld)');
    }
    if (round.record.submittedSites.includes(siteId) || round.inFlight.has(siteId)) {
      throw new ConclaveError('DUPLICATE_SUBMISSION', `site already submitted an update for round ${round.record.number}`);
    }
    round.inFlight.add(siteId);
    return { layout: round.layout, release: () => round.inFlight.delete(siteId) };
  }

  /**
   * Folds a verified update; the submission row and the fold happen only if the round is still
   * collecting. Under DP the count of contributors is part of what Poisson sampling hides, so the
   * site is told 0.
   */
  acceptUpdate(federationId: string, roundId: string, update: VerifiedUpdate): { received: number } {
    const round = this.active.get(federationId);
    if (!round || round.record.id !== roundId || round.record.state !== 'collecting' || round.closing) {
      throw new ConclaveError('ROUND_CLOSED', 'the round closed (deadline or quorum) before the upload finished');
    }
    this.store.db.prepare(`INSERT INTO submissions (round_id, site_id, num_examples, sha256, train_loss, train_accuracy, received_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(roundId, update.siteId, update.numExamples, update.sha256, update.trainLoss, update.trainAccuracy, Date.now());
    round.unprotect.accept(update, round.accumulator);
    if (update.unclipped) round.unclippedCount++;
    round.record.submittedSites.push(update.siteId);
    round.inFlight.delete(update.siteId);
    this.log.info('update accepted', { federation: federationId, round: round.record.number, site: update.siteId, examples: update.numExamples });
    this.emit('round', round.record);
    if (round.record.submittedSites.length === round.record.selectedSites.length) {
      queueMicrotask(() => void this.closeRound(federationId, 'all selected sites submitted'));
    }
    return { received: round.record.privacy ? 0 : round.record.submittedSites.length };
  }

  // --- scheduling ------------------------------------------------------------------------------

  private schedule(): void {
    const running = this.store.db.prepare(`SELECT id FROM federations WHERE status = 'running'`).all() as Array<{ id: string }>;
    for (const { id } of running) {
      if (this.active.has(id) || this.planning.has(id)) continue;
      this.planning.add(id);
      this.maybeOpenRound(id).catch((err: unknown) => {
        if (err instanceof ConclaveError && err.code === 'LEDGER_INVALID') {
          // Admission trusts nothing it cannot verify: no round opens until the ledger checks out again.
          this.nextDrawAfter.set(id, Date.now() + LEDGER_RECHECK_MS);
          this.log.error('ledger does not verify; refusing to admit rounds', { federation: id, error: err.message });
        } else {
          this.log.error('could not open round', { federation: id, error: String(err) });
        }
      }).finally(() => this.planning.delete(id));
    }
  }

  private availableSites(federationId: string): string[] {
    const now = Date.now();
    const sites = this.store.db.prepare('SELECT id FROM sites WHERE federation_id = ? AND revoked_ms IS NULL').all(federationId) as Array<{ id: string }>;
    return sites.map((s) => s.id).filter((id) => now - (this.lastSeen.get(id) ?? 0) < AVAILABILITY_WINDOW_MS);
  }

  private async maybeOpenRound(federationId: string): Promise<void> {
    const federation = this.getFederation(federationId);
    const config = federation.config;
    if (this.committedRounds(federationId) >= config.rounds) {
      this.finish(federationId, `all ${config.rounds} rounds committed`);
      return;
    }
    if ((this.nextDrawAfter.get(federationId) ?? 0) > Date.now()) return;
    const available = new Set(this.availableSites(federationId));
    const exhausted = this.outOfBudget.get(federationId);
    // The population to wait for: every enrolled site, or under DP every site with budget left.
    const candidates = config.privacy ? this.candidates(federationId, config.privacy) : [];
    const population = config.privacy
      ? candidates.map((c) => c.siteId).filter((id) => !exhausted?.has(id))
      : [...available];
    const wanted = config.privacy ? population.length : config.sitesPerRound;
    const ready = config.privacy ? population.filter((id) => available.has(id)).length : available.size;
    const now = Date.now();
    if (!this.waitingSince.has(federationId)) this.waitingSince.set(federationId, now);
    const waited = now - this.waitingSince.get(federationId)!;
    // Wait for a full population; after a deadline's worth of waiting, settle for a quorum.
    const enough = ready >= wanted || (ready >= config.minSites && waited >= config.roundDeadlineMs);
    if (!enough) return;
    this.waitingSince.delete(federationId);
    if (!config.privacy) {
      this.openRound(federationId, config, sample([...available], config.sitesPerRound), null, null);
      return;
    }
    await this.ledger.assertIntact(federationId);
    const privacy = this.planPrivacy(federationId, config, config.privacy, candidates);
    if (!privacy) return;
    // Poisson sampling: each eligible site independently with its own rate, as the accountant assumes.
    // A sampled site that is offline is a dropout, not a reason to resample.
    const selected = privacy.sampling.filter((site) => randomUnit() < site.sampleRate).map((site) => site.siteId);
    if (releasesAtSite(privacy.mode) && selected.length < config.minSites) {
      // No plan goes out, so nothing is released and nothing is charged. Redrawing is sound here
      // (unlike central mode) because every site release is charged at rate 1, whatever the draw.
      this.nextDrawAfter.set(federationId, Date.now() + SMALL_SAMPLE_RETRY_MS);
      this.recordUnreleasedAbort(federationId, config, selected, `sampled ${selected.length} sites, fewer than the quorum of ${config.minSites}`);
      return;
    }
    // Site releases are charged before any plan can reach a site: whatever happens to the round
    // afterwards (quorum, restart, a late upload), what the coordinator may see is already paid for.
    const roundId = randomUUID();
    const charge = releasesAtSite(privacy.mode) ? await this.siteReleaseEntry(federationId, roundId, privacy, selected) : null;
    this.openRound(federationId, config, selected, privacy, charge, roundId);
  }

  private candidates(federationId: string, privacy: PrivacyConfig): Candidate[] {
    const rows = this.store.db.prepare('SELECT id, sample_rate, budget_epsilon FROM sites WHERE federation_id = ? AND revoked_ms IS NULL ORDER BY enrolled_ms')
      .all(federationId) as Array<{ id: string; sample_rate: number | null; budget_epsilon: number | null }>;
    return rows.map((r) => ({ siteId: r.id, sampleRate: r.sample_rate ?? privacy.sampleRate, budgetEpsilon: r.budget_epsilon }));
  }

  /**
   * The rate the accountant may use. Local DP protects a site's update from the coordinator itself,
   * which knows who was sampled, so sampling buys no amplification there: rate 1.
   */
  private static accountingCandidates(privacy: Pick<PrivacyConfig, 'mode'>, candidates: Candidate[]): Candidate[] {
    return privacy.mode === 'local' ? candidates.map((c) => ({ ...c, sampleRate: 1 })) : candidates;
  }

  /** Admission control, then the round's DP parameters (fixed for the round and sent in its plan). */
  private planPrivacy(federationId: string, config: FederationConfig, privacy: PrivacyConfig, candidates: Candidate[]): RoundPrivacy | null {
    let admission;
    try {
      admission = this.admit(federationId, config, privacy, candidates);
    } catch (err) {
      if (err instanceof ConclaveError && err.code === 'BUDGET_EXCEEDED') {
        this.finish(federationId, err.message);
        return null;
      }
      throw err;
    }
    for (const site of admission.excluded) {
      if (!this.outOfBudget.has(federationId)) this.outOfBudget.set(federationId, new Set());
      this.outOfBudget.get(federationId)!.add(site.siteId);
      this.log.info('site left the eligible population', { federation: federationId, site: site.siteId, reason: site.reason });
    }
    if (admission.eligible.length < config.minSites) {
      this.finish(federationId, `only ${admission.eligible.length} sites have privacy budget left, fewer than the quorum of ${config.minSites}`);
      return null;
    }
    const admitted = new Set(admission.eligible.map((c) => c.siteId));
    const eligible = candidates.filter((c) => admitted.has(c.siteId));
    const expectedSites = eligible.reduce((sum, c) => sum + c.sampleRate, 0);
    const clipNorm = this.currentClipNorm(federationId, privacy);
    const noiseStd = privacy.mode === 'distributed' ? siteNoiseStd({ noiseMultiplier: privacy.noiseMultiplier, clipNorm, expectedSites })
      : privacy.mode === 'local' ? privacy.noiseMultiplier * 2 * clipNorm : 0;
    return {
      mode: privacy.mode, configuredNoiseMultiplier: privacy.noiseMultiplier, clipNorm, expectedSites, siteNoiseStd: noiseStd,
      chargedNoiseMultiplier: chargedNoiseMultiplier(privacy, expectedSites),
      // Sampling uses each site's own rate; the ledger records the rate the accountant may use.
      sampling: eligible.map((c) => ({ siteId: c.siteId, sampleRate: c.sampleRate })),
      eligible: admission.eligible.map((c) => ({ siteId: c.siteId, sampleRate: c.sampleRate })), adaptiveClip: privacy.adaptiveClip, delta: privacy.delta,
    };
  }

  private currentClipNorm(federationId: string, privacy: PrivacyConfig): number {
    if (!privacy.adaptiveClip) return privacy.clipNorm;
    const last = this.ledger.payloads(federationId).at(-1);
    return last?.event.adaptiveClip?.nextClipNorm ?? privacy.clipNorm;
  }

  /** Refuses to start (or restart) a federation whose budget cannot pay for one more round. */
  assertBudgetRemains(federationId: string): void {
    const config = this.getFederation(federationId).config;
    const privacy = config.privacy;
    if (!privacy) return;
    // A ledger that does not verify cannot say what was spent: nothing runs on it.
    this.ledger.assertIntactSync(federationId);
    if (privacy.budgetEpsilon === null) return;
    this.admit(federationId, config, privacy, this.candidates(federationId, privacy));
  }

  /**
   * The ledger's admission control for one more round. In distributed mode a site's share of the
   * noise grows as the eligible population shrinks, so charging the whole candidate population's
   * expected size is the worst case of what admission can leave.
   */
  private admit(federationId: string, _config: FederationConfig, privacy: PrivacyConfig, candidates: Candidate[]) {
    const expectedAll = candidates.reduce((sum, c) => sum + c.sampleRate, 0);
    const worstCase = chargedNoiseMultiplier(privacy, expectedAll);
    return this.ledger.admit(federationId, privacy.delta, privacy.budgetEpsilon, RoundManager.accountingCandidates(privacy, candidates), worstCase);
  }

  private finish(federationId: string, reason: string): void {
    this.markFinished(federationId, reason);
    this.log.info('federation finished', { federation: federationId, reason });
    this.emit('federation', federationId);
  }

  /**
   * A round whose sample could not go ahead under a site-release mode: recorded for the operator,
   * never planned, never released, so it records no privacy plan (the ledger audit requires a
   * charge for every round that has one).
   */
  private recordUnreleasedAbort(federationId: string, config: FederationConfig, selected: string[], reason: string): void {
    const baseVersion = this.registry.latestVersion(federationId) ?? 0;
    const number = this.nextRoundNumber(federationId);
    const now = Date.now();
    const record: RoundRecord = {
      id: randomUUID(), federationId, number, state: 'aborted', baseVersion, resultVersion: null, selectedSites: selected, submittedSites: [],
      seed: config.seed + number, openedMs: now, deadlineMs: now, closedMs: now, abortReason: reason, totalExamples: 0, privacy: null,
    };
    this.store.db.prepare(`INSERT INTO rounds (id, federation_id, number, state, base_version, selected_json, seed, opened_ms, deadline_ms, closed_ms, abort_reason)
      VALUES (?, ?, ?, 'aborted', ?, ?, ?, ?, ?, ?, ?)`).run(record.id, federationId, number, baseVersion, JSON.stringify(selected), record.seed, now, now, now, reason);
    this.emit('round', record);
  }

  private nextRoundNumber(federationId: string): number {
    return (this.store.db.prepare('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM rounds WHERE federation_id = ?').get(federationId) as { n: number }).n;
  }

  private openRound(federationId: string, config: FederationConfig, selected: string[], privacy: RoundPrivacy | null,
    charge: StoredEntry | null, roundId: string = randomUUID()): void {
    const baseVersion = this.registry.latestVersion(federationId);
    if (baseVersion === null) throw new ConclaveError('FEDERATION_STATE', `federation ${federationId} has no model`);
    const baseRecord = this.registry.get(federationId, baseVersion);
    const base = this.registry.readWeights(baseRecord);
    const number = charge ? (JSON.parse(charge.payload) as LedgerPayload).roundNumber : this.nextRoundNumber(federationId);
    const now = Date.now();
    const record: RoundRecord = {
      id: roundId, federationId, number, state: 'open', baseVersion, resultVersion: null,
      selectedSites: selected, submittedSites: [], seed: config.seed + number, openedMs: now,
      deadlineMs: now + config.roundDeadlineMs, closedMs: null, abortReason: null, totalExamples: 0, privacy,
    };
    // The round and the charge for its site releases land together: no plan exists without its cost.
    this.store.transaction(() => {
      this.store.db.prepare(`INSERT INTO rounds (id, federation_id, number, state, base_version, selected_json, seed, opened_ms, deadline_ms, privacy_json)
        VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)`).run(record.id, federationId, record.number, baseVersion, JSON.stringify(selected), record.seed, now,
        record.deadlineMs, privacy ? JSON.stringify(privacy) : null);
      if (charge) this.ledger.insert(federationId, charge);
    });
    const strategy = privacy
      ? new DpFedAvg({
        // Only central updates arrive without noise, so only they can be re-clipped here.
        clipNorm: privacy.clipNorm, expectedSites: privacy.expectedSites, enforceClip: privacy.mode === 'central',
        centralNoiseStd: privacy.mode === 'central' ? privacy.configuredNoiseMultiplier * privacy.clipNorm : 0,
      })
      : this.strategy;
    const timer = setTimeout(() => void this.closeRound(federationId, 'deadline reached'), config.roundDeadlineMs);
    timer.unref();
    this.active.set(federationId, {
      record, config, layout: baseRecord.layout, base, accumulator: strategy.begin(base), unprotect: noProtection,
      inFlight: new Set(), timer, closing: false, unclippedCount: 0,
    });
    // The plan is now fixed and persisted; publishing it moves the round to collecting.
    this.setState(record, 'collecting');
    // A central-DP sample may be empty: the round still releases (noise only) and is charged, since
    // skipping it would tell the world the sample was empty.
    if (selected.length === 0) queueMicrotask(() => void this.closeRound(federationId, 'no site was sampled'));
    this.log.info('round opened', { federation: federationId, round: record.number, baseVersion, sites: selected.length, dp: privacy ? privacy.mode : 'off' });
  }

  private setState(record: RoundRecord, state: RoundState): void {
    this.store.db.prepare('UPDATE rounds SET state = ? WHERE id = ?').run(state, record.id);
    record.state = state;
    this.emit('round', record);
  }

  /**
   * finalize + commit, or abort below quorum. The model version, the round's outcome and the
   * privacy-ledger entry land in one transaction: a round is never committed without its cost.
   */
  private async closeRound(federationId: string, why: string): Promise<void> {
    const round = this.active.get(federationId);
    if (!round || round.closing) return;
    round.closing = true;
    clearTimeout(round.timer);
    const { record, config, accumulator } = round;
    const now = Date.now();
    // Central DP never conditions on how many sites turned up: a round below the quorum is still a
    // released round (its sum over whoever came, ÷ the public expected count), charged at rate q.
    // Aborting it instead would make committed rounds a sample conditioned on S ≥ m, whose true
    // inclusion probability exceeds q, and publish whether S ≥ m.
    const quorumApplies = record.privacy?.mode !== 'central';
    try {
      if (quorumApplies && accumulator.updates < config.minSites) {
        const reason = `quorum not reached: ${accumulator.updates} of ${config.minSites} required updates by the deadline`;
        this.store.db.prepare(`UPDATE rounds SET state = 'aborted', closed_ms = ?, abort_reason = ? WHERE id = ?`).run(now, reason, record.id);
        Object.assign(record, { state: 'aborted', closedMs: now, abortReason: reason });
        this.log.warn('round aborted', { federation: federationId, round: record.number, reason });
      } else {
        const next = accumulator.finalize();
        const version = (this.registry.latestVersion(federationId) ?? 0) + 1;
        const entry = record.privacy && !releasesAtSite(record.privacy.mode) ? await this.aggregateReleaseEntry(round, record.privacy, version) : null;
        const { blobPath, sha256 } = this.registry.writeBlob(federationId, version, next);
        this.store.transaction(() => {
          if (entry) this.ledger.insert(federationId, entry);
          this.registry.insertVersion({
            federationId, version, parentVersion: record.baseVersion, roundId: record.id, sha256, numParameters: next.length,
            layout: round.layout, blobPath,
            // Under DP the number of contributors is not released (Poisson sampling hides it).
            metrics: record.privacy ? {} : { updates: accumulator.updates, examples: accumulator.totalExamples },
            // The version anchors the ledger head it was committed with: dropping newer entries shows.
            ledgerHead: record.privacy ? this.ledger.head(federationId) : null,
          });
          this.store.db.prepare(`UPDATE rounds SET state = 'committed', result_version = ?, closed_ms = ?, total_examples = ? WHERE id = ?`)
            .run(version, now, accumulator.totalExamples, record.id);
        });
        Object.assign(record, { state: 'committed', resultVersion: version, closedMs: now, totalExamples: accumulator.totalExamples });
        this.log.info('round committed', { federation: federationId, round: record.number, version, updates: accumulator.updates, why });
      }
    } catch (err) {
      this.log.error('round could not be committed; aborting it', { federation: federationId, round: record.number, error: String(err) });
      this.store.db.prepare(`UPDATE rounds SET state = 'aborted', closed_ms = ?, abort_reason = ? WHERE id = ?`).run(now, `commit failed: ${String(err)}`, record.id);
      Object.assign(record, { state: 'aborted', closedMs: now, abortReason: `commit failed` });
    } finally {
      this.active.delete(federationId);
    }
    this.emit('round', record);
    if (this.committedRounds(federationId) >= config.rounds) this.finish(federationId, `all ${config.rounds} rounds committed`);
  }

  /**
   * The DP event of a central round's aggregate. Every parameter was fixed before the round ran:
   * nothing in the entry depends on who was sampled or survived.
   */
  private async aggregateReleaseEntry(round: ActiveRound, privacy: RoundPrivacy, version: number): Promise<StoredEntry> {
    const survivors = round.accumulator.updates;
    let adaptiveClip: DpEvent['adaptiveClip'] = null;
    if (privacy.adaptiveClip) {
      // The count is released centred, Σ(bᵢ − ½) + N(0, σ_b²), with ½ added back after normalising
      // (Andrew et al. 2021; TF Privacy's QuantileEstimatorQuery): that query has sensitivity ½, which
      // is what the (2σ_b)⁻² term of the accounted noise multiplier assumes. That holds only while
      // the number of contributors stays hidden (with it known the sensitivity is 1), which is why no
      // count leaves the coordinator under DP. The curator uses the survivors only to centre.
      const fraction = 0.5 + noisedUnclippedFraction(round.unclippedCount, privacy.expectedSites, privacy.adaptiveClip.countNoiseStd)
        - survivors / (2 * privacy.expectedSites);
      adaptiveClip = {
        countNoiseStd: privacy.adaptiveClip.countNoiseStd, targetQuantile: privacy.adaptiveClip.targetQuantile, noisedUnclippedFraction: fraction,
        nextClipNorm: updateClipNorm({ clipNorm: privacy.clipNorm, noisedUnclippedFraction: fraction, targetQuantile: privacy.adaptiveClip.targetQuantile, learningRate: privacy.adaptiveClip.learningRate }),
      };
    }
    const event: DpEvent = {
      mechanism: 'gaussian', mode: privacy.mode, release: 'aggregate', adjacency: 'add-remove', sensitivity: privacy.clipNorm,
      noiseMultiplier: privacy.chargedNoiseMultiplier, configuredNoiseMultiplier: privacy.configuredNoiseMultiplier, clipNorm: privacy.clipNorm,
      sampling: 'poisson', sampleRate: Math.max(...privacy.eligible.map((e) => e.sampleRate)), expectedSites: privacy.expectedSites, adaptiveClip,
    };
    return this.ledger.prepare({
      federationId: round.record.federationId, roundId: round.record.id, roundNumber: round.record.number, modelVersion: version,
      delta: privacy.delta, event, eligible: privacy.eligible,
    });
  }

  /**
   * The charge for a local or distributed round, written before any site gets its plan: each
   * selected site releases its own noised update to the coordinator (replace-one adjacency, L2
   * sensitivity 2C, no amplification: the coordinator knows who was sampled).
   */
  private async siteReleaseEntry(federationId: string, roundId: string, privacy: RoundPrivacy, selected: string[]): Promise<StoredEntry> {
    const event: DpEvent = {
      mechanism: 'gaussian', mode: privacy.mode, release: 'site-updates', adjacency: 'replace-one', sensitivity: 2 * privacy.clipNorm,
      noiseMultiplier: privacy.chargedNoiseMultiplier, configuredNoiseMultiplier: privacy.configuredNoiseMultiplier, clipNorm: privacy.clipNorm,
      sampling: 'selected', sampleRate: 1, expectedSites: privacy.expectedSites, adaptiveClip: null,
    };
    return this.ledger.prepare({
      federationId, roundId, roundNumber: this.nextRoundNumber(federationId), modelVersion: null, delta: privacy.delta, event,
      eligible: selected.map((siteId) => ({ siteId, sampleRate: 1 })),
    });
  }

  private fromRow(row: RoundRow): RoundRecord {
    const active = this.active.get(row.federation_id);
    if (active && active.record.id === row.id) return active.record;
    const submitted = this.store.db.prepare('SELECT site_id FROM submissions WHERE round_id = ? ORDER BY received_ms').all(row.id) as Array<{ site_id: string }>;
    return {
      id: row.id, federationId: row.federation_id, number: row.number, state: row.state, baseVersion: row.base_version,
      resultVersion: row.result_version, selectedSites: JSON.parse(row.selected_json) as string[], submittedSites: submitted.map((s) => s.site_id),
      seed: row.seed, openedMs: row.opened_ms, deadlineMs: row.deadline_ms, closedMs: row.closed_ms, abortReason: row.abort_reason,
      totalExamples: row.total_examples, privacy: row.privacy_json ? JSON.parse(row.privacy_json) as RoundPrivacy : null,
    };
  }
}

/**
 * The noise multiplier the ledger charges a round, from the configuration alone. Central: the
 * noise on the sum at sensitivity C, with the adaptive-clipping count query composed in. Local and
 * distributed: one site's release, std ÷ 2C (local: the configured σ is already relative to 2C;
 * distributed: σC/√E ÷ 2C). Until secure aggregation hides single updates, that is what a
 * distributed round exposes to the coordinator.
 */
export function chargedNoiseMultiplier(privacy: Pick<PrivacyConfig, 'mode' | 'noiseMultiplier' | 'adaptiveClip'>, expectedSites: number): number {
  switch (privacy.mode) {
    case 'central':
      return privacy.adaptiveClip ? adaptiveClipEffectiveNoiseMultiplier(privacy.noiseMultiplier, privacy.adaptiveClip.countNoiseStd) : privacy.noiseMultiplier;
    case 'local':
      return privacy.noiseMultiplier;
    case 'distributed':
      return privacy.noiseMultiplier / (2 * Math.sqrt(Math.max(expectedSites, Number.MIN_VALUE)));
  }
}

/** A uniform double in [0, 1) from the CSPRNG: sampling decisions must not be predictable by sites. */
function randomUnit(): number {
  return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
}

/** Uniform sample without replacement from a CSPRNG: selection must not be predictable by sites. */
function sample<T>(items: T[], k: number): T[] {
  const pool = items.slice();
  for (let i = pool.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, Math.min(k, pool.length));
}
