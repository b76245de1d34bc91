/**
 * One round, top to bottom, as ARCHITECTURE.md draws it:
 *
 *   plan (round-scheduler.ts selects; round-privacy.ts admits and fixes the DP parameters)
 *   → the protection protocol's stages (coordinator/protection/), each persisted before its tasks go out
 *   → aggregate (the protocol hands unprotected updates, or their sum, to the aggregation)
 *   → DP post-processing (the DP aggregator wraps the inner one: clip, sum, noise, ÷ expected sites)
 *   → server optimizer (next = step(base, aggregate delta), with state)
 *   → commit: model version + optimizer state + ledger entry + round outcome in ONE transaction.
 *
 * The round's SQL lives in round-store.ts. A round is `open` while its plan is written, then
 * `collecting` through its stages (the current stage is persisted), then `committed` or `aborted`.
 */
import { EventEmitter } from 'node:events';
import { createHash, randomUUID } from 'node:crypto';
import { ConclaveError, makeHeader, type StageHeaderMsg, type TensorHeaderMsg, type TensorSpec, type TypedTensor } from '../protocols/index.ts';
import type { Store } from './store.ts';
import type { ModelRegistry } from './model-registry.ts';
import type { FederationConfig } from './federation-config.ts';
import type { Logger } from './logger.ts';
import type { PrivacyLedger, StoredEntry } from './privacy/ledger.ts';
import { systemClock, type Clock, type Timer } from './clock.ts';
import { RoundStore, type RoundRecord, type RoundState, type StageLog } from './round-store.ts';
import { RoundPrivacyPlanner, releasesAtSite, type RoundPrivacy } from './round-privacy.ts';
import { RoundScheduler, type FederationView } from './round-scheduler.ts';
import type { ProtectionProtocol, ProtocolRegistry, StageRoundContext, StageTaskBody, TensorExpectation, UpdateReport } from './protection/protocol.ts';
import { noProtection } from './protection/none.ts';
import { secureAggregation } from './protection/secagg.ts';
import { heProtection } from './protection/he.ts';
import { SiteIdentities } from './site-identities.ts';
import { aggregationFor, serverOptimizerFor } from './aggregation/for-config.ts';
import { DEFAULT_UPDATE_LIMITS, noiseNormBound, type UpdateLimits } from './limits.ts';
import type { RoundAggregation } from './aggregation/aggregator.ts';
import { sumOfSquares } from './aggregation/kernels.ts';
import { EvaluationAggregate, checkEvaluationReport, evaluationDue, evaluationMetrics } from './evaluation/federated-evaluation.ts';

export type { RoundRecord, RoundState, StageLog, RoundPrivacy, FederationView };

/** What a site is asked to do next in a round. */
export type SiteTask =
  | { kind: 'plan'; round: RoundRecord; protection: ReturnType<ProtectionProtocol['plan']> }
  | { kind: 'stage'; round: RoundRecord; stage: string; deadlineMs: number; task: StageTaskBody; tensor: TensorHeaderMsg | null };

/** Each stage tensor's header, digest included, computed once however many sites fetch it. */
const stageTensorHeaders = new WeakMap<object, TensorHeaderMsg>();
function stageTensorHeader(tensor: { layout: TensorSpec[]; values: TypedTensor }): TensorHeaderMsg {
  let header = stageTensorHeaders.get(tensor.values);
  if (!header) {
    header = makeHeader(tensor.layout, tensor.values);
    stageTensorHeaders.set(tensor.values, header);
  }
  return header;
}

interface ActiveRound {
  record: RoundRecord;
  config: FederationConfig;
  layout: TensorSpec[];
  base: Float32Array;
  protocol: ProtectionProtocol<unknown>;
  state: unknown;
  ctx: StageRoundContext;
  aggregation: RoundAggregation;
  /** The sites' evaluation of the base model, when the plan asked for one. */
  evaluation: EvaluationAggregate | null;
  stageIndex: number;
  stageDeadlineMs: number;
  /** Sites in the current stage, those whose message it accepted, and uploads streaming in. */
  live: Set<string>;
  answered: Set<string>;
  inFlight: Set<string>;
  timer: Timer | null;
  closing: boolean;
  /** Accepts still settling (a stage whose accept() returned a promise), and whether the stage is draining them to end. */
  accepting: Set<Promise<unknown>>;
  ending: boolean;
  /** Tensor bytes accepted in this round, all stages: the operator's progress, never a decision. */
  bytesReceived: number;
}

/** A round in progress as the operator's "round watch" shows it. */
export interface RoundProgress {
  roundId: string;
  stageDeadlineMs: number;
  expected: number;
  answered: number;
  bytesReceived: number;
}

export const DEFAULT_PROTOCOLS: ProtocolRegistry = new Map([
  [noProtection.name, noProtection as ProtectionProtocol<never>],
  ['secagg', secureAggregation() as ProtectionProtocol<never>],
  ['he', heProtection() as ProtectionProtocol<never>],
]);

export class RoundManager extends EventEmitter {
  private readonly store: Store;
  private readonly registry: ModelRegistry;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly protocols: ProtocolRegistry;
  private readonly active = new Map<string, ActiveRound>();
  /** Commits under way: they write the model through the thread pool, and the store must outlive them. */
  private readonly committing = new Set<Promise<void>>();
  private readonly getFederation: (id: string) => FederationView;
  private readonly markFinished: (id: string, reason: string) => void;
  private readonly updateLimits: UpdateLimits;
  readonly ledger: PrivacyLedger;
  readonly rounds: RoundStore;
  readonly privacy: RoundPrivacyPlanner;
  readonly scheduler: RoundScheduler;
  readonly identities: SiteIdentities;

  constructor(deps: {
    store: Store; registry: ModelRegistry; log: Logger; ledger: PrivacyLedger;
    getFederation: (id: string) => FederationView; markFinished: (id: string, reason: string) => void;
    clock?: Clock; protocols?: ProtocolRegistry;
    /** The bounds the `none` protocol enforces, which the aggregate check must agree with. */
    updateLimits?: UpdateLimits;
  }) {
    super();
    this.setMaxListeners(0);
    this.store = deps.store;
    this.registry = deps.registry;
    this.log = deps.log;
    this.ledger = deps.ledger;
    this.clock = deps.clock ?? systemClock;
    this.protocols = deps.protocols ?? DEFAULT_PROTOCOLS;
    this.getFederation = deps.getFederation;
    this.markFinished = deps.markFinished;
    this.updateLimits = deps.updateLimits ?? DEFAULT_UPDATE_LIMITS;
    this.rounds = new RoundStore(deps.store);
    this.identities = new SiteIdentities(deps.store);
    this.privacy = new RoundPrivacyPlanner(deps.store, deps.ledger);
    this.scheduler = new RoundScheduler({
      store: deps.store, clock: this.clock, log: deps.log, planner: this.privacy, getFederation: deps.getFederation,
      rounds: {
        hasActiveRound: (id) => this.active.has(id),
        committedRounds: (id) => this.rounds.committedCount(id),
        openRound: (id, config, selected, privacy) => this.openRound(id, config, selected, privacy),
        recordUnplannedRound: (id, config, selected, reason) => this.recordUnplannedRound(id, config, selected, reason),
        finish: (id, reason) => this.finish(id, reason),
      },
    });
  }

  /** After a crash, rounds in progress are aborted: what sites sent lived only in memory. */
  recover(): number {
    return this.rounds.abortInterrupted(this.clock.now());
  }

  start(): void {
    this.scheduler.start();
  }

  stop(): void {
    this.scheduler.stop();
    for (const round of this.active.values()) this.dispose(round);
    this.active.clear();
    for (const protocol of this.protocols.values()) void protocol.close?.();
  }

  /** Resolves once the commits under way (started before stop()) have landed or aborted their round. */
  async drained(): Promise<void> {
    while (this.committing.size > 0) await Promise.allSettled([...this.committing]);
  }

  markSeen(siteId: string): void {
    this.scheduler.markSeen(siteId);
  }

  activeRound(federationId: string): RoundRecord | null {
    return this.active.get(federationId)?.record ?? null;
  }

  getRound(roundId: string): RoundRecord | null {
    const stored = this.rounds.get(roundId);
    if (!stored) return null;
    const live = this.active.get(stored.federationId);
    return live && live.record.id === roundId ? live.record : stored;
  }

  /** The federation's round in progress, if any: its stage's deadline, live and answered sites, bytes in. */
  progress(federationId: string): RoundProgress | null {
    const round = this.active.get(federationId);
    if (!round) return null;
    return {
      roundId: round.record.id, stageDeadlineMs: round.stageDeadlineMs, expected: round.live.size,
      answered: [...round.answered].filter((id) => round.live.has(id)).length, bytesReceived: round.bytesReceived,
    };
  }

  listRounds(federationId: string): RoundRecord[] {
    const live = this.active.get(federationId);
    return this.rounds.list(federationId).map((r) => (live && live.record.id === r.id ? live.record : r));
  }

  stageLog(roundId: string): StageLog[] {
    return this.rounds.stages(roundId);
  }

  committedRounds(federationId: string): number {
    return this.rounds.committedCount(federationId);
  }

  assertBudgetRemains(federationId: string): void {
    this.privacy.assertBudgetRemains(federationId, this.getFederation(federationId).config);
  }

  /**
   * A site's training seed for a round, from the federation seed, the round number and the site's
   * name (not its random id), so a seeded simulation trains the same way every time it is run.
   */
  siteSeed(round: RoundRecord, siteId: string): number {
    const digest = createHash('sha256').update(`${round.seed}:${round.number}:${this.rounds.siteName(siteId) ?? siteId}`).digest();
    return digest.readUIntBE(0, 6);
  }

  // --- the site's view: what to do next ----------------------------------------------------------

  /** The task this site has in its federation's active round, if any: the plan (first stage) or a later stage's task. */
  taskFor(federationId: string, siteId: string): SiteTask | null {
    const round = this.active.get(federationId);
    if (!round || round.record.state !== 'collecting' || round.closing || round.ending) return null;
    if (!round.live.has(siteId) || round.answered.has(siteId) || round.inFlight.has(siteId)) return null;
    if (round.stageIndex === 0) return { kind: 'plan', round: round.record, protection: round.protocol.plan(round.ctx) };
    const stage = round.protocol.stages[round.stageIndex]!;
    const tensor = stage.taskTensor?.(round.state, siteId) ?? null;
    return {
      kind: 'stage', round: round.record, stage: stage.name, deadlineMs: round.stageDeadlineMs, task: stage.task?.(round.state, siteId) ?? {},
      tensor: tensor ? stageTensorHeader(tensor) : null,
    };
  }

  /** The tensor of this site's task in the round's current stage (DownloadStageTensor), with the header its task announced. */
  stageTensor(federationId: string, siteId: string, roundId: string, stageName: string): { header: TensorHeaderMsg; values: TypedTensor } {
    const round = this.active.get(federationId);
    if (!round || round.record.id !== roundId) throw new ConclaveError('NOT_FOUND', `round ${roundId.slice(0, 64)} is not in progress in this federation`);
    const stage = round.protocol.stages[round.stageIndex]!;
    if (round.stageIndex === 0 || stage.name !== stageName || round.closing) throw new ConclaveError('ROUND_CLOSED', `round ${round.record.number} is not in stage "${stageName.slice(0, 64)}"`);
    if (!round.live.has(siteId)) throw new ConclaveError('NOT_SELECTED', `site has no task in stage "${stage.name}" of round ${round.record.number}`);
    const tensor = stage.taskTensor?.(round.state, siteId) ?? null;
    if (!tensor) throw new ConclaveError('NOT_FOUND', `stage "${stage.name}" gives this site no tensor`);
    return { header: stageTensorHeader(tensor), values: tensor.values };
  }

  // --- a stage message arrives ---------------------------------------------------------------------

  /**
   * Checks a stage header against the round and the stage before anything is buffered, and
   * reserves the site's slot so two concurrent uploads cannot both count.
   */
  beginMessage(federationId: string, siteId: string, header: StageHeaderMsg): { expect: TensorExpectation | null; release: () => void } {
    const round = this.active.get(federationId);
    if (!round || round.record.id !== header.roundId) {
      const stored = this.rounds.get(header.roundId);
      if (!stored || stored.federationId !== federationId) throw new ConclaveError('NOT_FOUND', `round ${header.roundId.slice(0, 64)} does not exist in this federation`);
      if (stored.submittedSites.includes(siteId)) throw new ConclaveError('DUPLICATE_SUBMISSION', `site already submitted an update for round ${stored.number}`);
      throw new ConclaveError('ROUND_CLOSED', `round ${stored.number} is ${stored.state}; messages are no longer accepted`);
    }
    const stage = round.protocol.stages[round.stageIndex]!;
    if (round.record.state !== 'collecting' || round.closing) throw new ConclaveError('ROUND_CLOSED', `round ${round.record.number} is closing; messages are no longer accepted`);
    if (round.ending) throw new ConclaveError('ROUND_CLOSED', `stage "${stage.name}" of round ${round.record.number} is ending; messages are no longer accepted`);
    if (!round.record.selectedSites.includes(siteId)) throw new ConclaveError('NOT_SELECTED', `site was not selected for round ${round.record.number}`);
    if (header.stage !== stage.name) {
      const known = round.protocol.stages.some((s) => s.name === header.stage);
      throw new ConclaveError(known ? 'ROUND_CLOSED' : 'INVALID_ARGUMENT',
        known ? `round ${round.record.number} is in stage "${stage.name}", not "${header.stage.slice(0, 64)}"` : `protocol "${round.protocol.name}" has no stage "${header.stage.slice(0, 64)}"`);
    }
    if (round.answered.has(siteId) || round.inFlight.has(siteId)) {
      throw new ConclaveError('DUPLICATE_SUBMISSION', `site already sent its "${stage.name}" message for round ${round.record.number}`);
    }
    if (!round.live.has(siteId)) throw new ConclaveError('ROUND_CLOSED', `site dropped out of round ${round.record.number} before stage "${stage.name}"`);
    if (header.body === 'update') checkEvaluationReport(header.update, round.ctx.evaluate === true);
    const expect = stage.expect(round.state, round.ctx, siteId, header);
    if (expect === null && header.tensor) throw new ConclaveError('INVALID_ARGUMENT', `stage "${stage.name}" takes no tensor`);
    round.inFlight.add(siteId);
    return { expect, release: () => round.inFlight.delete(siteId) };
  }

  /**
   * A round opened, moved to its next stage or closed: every 'round' listener hears of it, and so
   * do the long polls waiting for a task ('tasks', with the federation), which a message being
   * accepted does not wake: with every site of a round polling, waking each of them on each
   * other site's upload was O(sites²) task reads a round (bench/load.ts).
   */
  private transition(record: RoundRecord): void {
    this.emit('round', record);
    this.emit('tasks', record.federationId);
  }

  /** Hands a complete, verified message to the stage; the stage ends once every live site answered. */
  acceptMessage(federationId: string, siteId: string, header: StageHeaderMsg, tensor: TypedTensor | null, sha256: Buffer | null): { received: number } | Promise<{ received: number }> {
    const round = this.active.get(federationId);
    if (!round || round.record.id !== header.roundId || round.record.state !== 'collecting' || round.closing || round.ending) {
      throw new ConclaveError('ROUND_CLOSED', 'the round closed (deadline or quorum) before the upload finished');
    }
    const stage = round.protocol.stages[round.stageIndex]!;
    if (header.stage !== stage.name) throw new ConclaveError('ROUND_CLOSED', `the round moved past stage "${header.stage.slice(0, 64)}" before the upload finished`);
    // A site revoked while its upload streamed in is not counted (issue 13, finding 3).
    if (this.isRevoked(siteId)) {
      round.live.delete(siteId);
      throw new ConclaveError('TOKEN_REVOKED', 'site has been revoked from the federation');
    }
    let reported;
    const refused = (err: unknown): never => {
      // An update refused by the coordinator's bounds costs its site this round (one try): it cannot
      // hold the stage open to its deadline or retry forever. Malformed messages may be resent.
      if (!(err instanceof ConclaveError && err.code === 'UPDATE_REFUSED')) throw err;
      round.live.delete(siteId);
      round.inFlight.delete(siteId);
      this.endStageOnceAllAnswered(federationId, round);
      throw err;
    };
    try {
      reported = stage.accept(round.state, round.ctx, { siteId, header, tensor });
    } catch (err) {
      refused(err);
    }
    if (reported instanceof Promise) {
      // Worked on off the thread: the stage waits for it before it ends (endStage), so a message
      // accepted before the deadline counts, and one the round was closed under (abort, stop) does not.
      const stageIndex = round.stageIndex;
      const moved = () => round.closing || this.active.get(federationId) !== round || round.stageIndex !== stageIndex;
      const settled = reported.then((r) => {
        if (moved()) throw new ConclaveError('ROUND_CLOSED', 'the round closed before the upload was taken in');
        return this.accepted(federationId, round, siteId, header, tensor, sha256, r);
      }, (err) => (moved() ? Promise.reject(err) : refused(err)));
      round.accepting.add(settled);
      void settled.then(() => round.accepting.delete(settled), () => round.accepting.delete(settled));
      return settled;
    }
    return this.accepted(federationId, round, siteId, header, tensor, sha256, reported);
  }

  /** Records a message the stage took in: the site's submission, its answer, and maybe the stage's end. */
  private accepted(
    federationId: string, round: ActiveRound, siteId: string, header: StageHeaderMsg, tensor: TypedTensor | null, sha256: Buffer | null, reported: void | UpdateReport,
  ): { received: number } | Promise<{ received: number }> {
    const stage = round.protocol.stages[round.stageIndex]!;
    const u = header.body === 'update' ? header.update : reported ?? null;
    // The submission row goes with the others of the same moment (one fsync); the site's answer waits for it.
    let durable: Promise<void> | null = null;
    if (u) {
      durable = this.rounds.recordSubmission(round.record.id, siteId, u.numExamples, sha256 ?? Buffer.alloc(32), u.trainLoss, u.trainAccuracy, this.clock.now());
      round.record.submittedSites.push(siteId);
      if (header.body === 'update') round.evaluation?.add(header.update);
    } else if (stage.contribution) {
      // A protected contribution (a masked vector): the site is a contributor; no count or metric is known.
      durable = this.rounds.recordSubmission(round.record.id, siteId, 0, sha256 ?? Buffer.alloc(32), 0, 0, this.clock.now());
      round.record.submittedSites.push(siteId);
    }
    round.answered.add(siteId);
    round.inFlight.delete(siteId);
    round.bytesReceived += tensor?.byteLength ?? 0;
    this.log.info('stage message accepted', { federation: federationId, round: round.record.number, stage: stage.name, site: siteId });
    this.emit('round', round.record);
    this.endStageOnceAllAnswered(federationId, round);
    // Under DP the number of contributors is part of what Poisson sampling hides.
    const answer = { received: round.record.privacy ? 0 : round.answered.size };
    return durable ? durable.then(() => answer) : answer;
  }

  // --- plan ------------------------------------------------------------------------------------------

  private async openRound(federationId: string, config: FederationConfig, selected: string[], privacy: RoundPrivacy | null): Promise<void> {
    const baseVersion = this.rounds.rollbackTarget(federationId) ?? this.registry.latestVersion(federationId);
    if (baseVersion === null) throw new ConclaveError('FEDERATION_STATE', `federation ${federationId} has no model`);
    const baseRecord = this.registry.get(federationId, baseVersion);
    const base = this.registry.readWeights(baseRecord);
    const protocol = this.protocols.get(config.protection.kind) as ProtectionProtocol<unknown> | undefined;
    if (!protocol) throw new ConclaveError('FEDERATION_STATE', `no protection protocol "${config.protection.kind}" in this coordinator`);
    await protocol.prepare?.();
    const now = this.clock.now();
    const record: RoundRecord = {
      id: randomUUID(), federationId, number: this.rounds.nextNumber(federationId), state: 'open', stage: null, baseVersion, resultVersion: null,
      selectedSites: selected, submittedSites: [], seed: 0, openedMs: now, deadlineMs: now + config.roundDeadlineMs,
      closedMs: null, abortReason: null, totalExamples: 0, privacy,
    };
    record.seed = config.seed + record.number;
    // Site releases are charged before any plan can reach a site: whatever happens to the round
    // afterwards (quorum, restart, a late upload), what the coordinator may see is already paid for.
    const charge: StoredEntry | null = privacy && releasesAtSite(privacy.mode) ? await this.privacy.siteReleaseEntry(record, privacy, selected) : null;
    record.bounds = { clipped: 0, capped: 0, refused: 0 };
    const ctx: StageRoundContext = {
      federationId, roundId: record.id, roundNumber: record.number, layout: baseRecord.layout, selected,
      // Central DP never conditions on how many sites turned up (see round-privacy.ts).
      minSurvivors: privacy?.mode === 'central' ? 0 : config.minSites, dp: privacy !== null, protection: config.protection,
      privacy, pinIdentity: (siteId, key) => this.identities.pin(federationId, siteId, key),
      compression: config.compression, evaluate: evaluationDue(config, baseVersion, privacy !== null),
      weightCaps: this.rounds.declaredMaxExamples(selected), bounds: record.bounds,
    };
    // Everything that can refuse the round's set-up runs before the round is written: a round row
    // never exists for a round that could not start.
    const aggregation = aggregationFor(config, privacy).begin(base.length);
    const state = protocol.begin(ctx, aggregation);
    this.store.transaction(() => {
      this.rounds.insert(record);
      if (charge) this.ledger.insert(federationId, charge);
    });
    const round: ActiveRound = {
      record, config, layout: baseRecord.layout, base, protocol, state, ctx, aggregation, evaluation: ctx.evaluate ? new EvaluationAggregate(baseVersion) : null, stageIndex: 0, stageDeadlineMs: record.deadlineMs,
      live: new Set(selected), answered: new Set(), inFlight: new Set(), timer: null, closing: false, bytesReceived: 0, accepting: new Set(), ending: false,
    };
    this.active.set(federationId, round);
    this.log.info('round opened', { federation: federationId, round: record.number, baseVersion, sites: selected.length, dp: privacy ? privacy.mode : 'off', protection: protocol.name });
    this.startStage(federationId, round, config.roundDeadlineMs);
    // The plan is fixed and persisted; publishing it moves the round to collecting.
    this.rounds.setState(record, 'collecting');
    this.transition(record);
    // A central-DP sample may be empty: the round still releases (noise only) and is charged, since
    // skipping it would tell the world the sample was empty.
    if (selected.length === 0) queueMicrotask(() => this.endStage(federationId, round, 0, 'no site was sampled'));
  }

  private recordUnplannedRound(federationId: string, config: FederationConfig, selected: string[], reason: string): void {
    const now = this.clock.now();
    const number = this.rounds.nextNumber(federationId);
    // No plan went out and nothing was released, so the round records no privacy plan: the ledger
    // audit requires a charge for every round that has one.
    const record: RoundRecord = {
      id: randomUUID(), federationId, number, state: 'aborted', stage: null, baseVersion: this.registry.latestVersion(federationId) ?? 0, resultVersion: null,
      selectedSites: selected, submittedSites: [], seed: config.seed + number, openedMs: now, deadlineMs: now, closedMs: now, abortReason: reason,
      totalExamples: 0, privacy: null,
    };
    this.rounds.insert(record);
    this.transition(record);
  }

  // --- the protocol's stages -----------------------------------------------------------------------

  private startStage(federationId: string, round: ActiveRound, timeoutMs: number): void {
    const stage = round.protocol.stages[round.stageIndex]!;
    const now = this.clock.now();
    round.answered = new Set();
    round.inFlight = new Set();
    round.stageDeadlineMs = now + timeoutMs;
    this.rounds.beginStage(round.record, stage.name, [...round.live], now);
    const stageIndex = round.stageIndex;
    round.timer = this.clock.after(timeoutMs, () => this.endStage(federationId, round, stageIndex, 'deadline reached'));
  }

  /**
   * A stage is over: its survivors move on to the next stage, or the round is aggregated and
   * committed. Its deadline and its last answer may both try to end it; only the first counts.
   */
  private endStage(federationId: string, round: ActiveRound, stageIndex: number, why: string, settled?: { failure: unknown }): void {
    if (round.closing || (round.ending && !settled) || this.active.get(federationId) !== round || round.stageIndex !== stageIndex) return;
    const stage = round.protocol.stages[round.stageIndex]!;
    // Uploads still streaming in are refused when they finish: the stage's outcome is fixed now.
    round.timer?.cancel();
    if (!settled && (round.accepting.size > 0 || stage.settle)) {
      round.ending = true;
      void this.settleStage(federationId, round, stageIndex, why);
      return;
    }
    for (const id of round.live) if (this.isRevoked(id)) round.live.delete(id);
    const answered = [...round.answered].filter((id) => round.live.has(id));
    const live = [...round.live];
    let outcome;
    try {
      if (settled?.failure) throw settled.failure;
      outcome = stage.finish(round.state, round.ctx, answered, live);
    } catch (err) {
      outcome = { abort: `stage "${stage.name}" failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    const now = this.clock.now();
    this.rounds.endStage(round.record, stage.name, answered, live.filter((id) => !round.answered.has(id)), now);
    if ('abort' in outcome) {
      this.abort(federationId, round, outcome.abort);
      return;
    }
    const stages = round.protocol.stages;
    let next = round.stageIndex + 1;
    while (next < stages.length && stages[next]!.skip?.(round.state)) next++;
    if (next < stages.length) {
      round.live = new Set(outcome.survivors);
      round.stageIndex = next;
      this.log.info('round stage', { federation: federationId, round: round.record.number, stage: round.protocol.stages[round.stageIndex]!.name, sites: round.live.size, why });
      this.startStage(federationId, round, round.protocol.laterStageDeadlineMs?.(round.ctx) ?? round.config.roundDeadlineMs);
      this.transition(round.record);
      return;
    }
    round.closing = true;
    const committed = this.commit(federationId, round, outcome.survivors, why);
    this.committing.add(committed);
    void committed.finally(() => this.committing.delete(committed));
  }

  /** Waits for the stage's accepts in flight, then its settle(), then ends it (unless the round was closed meanwhile). */
  private async settleStage(federationId: string, round: ActiveRound, stageIndex: number, why: string): Promise<void> {
    const stage = round.protocol.stages[stageIndex]!;
    let failure: unknown = null;
    try {
      while (round.accepting.size > 0) await Promise.allSettled([...round.accepting]);
      if (!round.closing) await stage.settle?.(round.state, round.ctx);
    } catch (err) {
      failure = err ?? new Error('settle failed');
    }
    round.ending = false;
    this.endStage(federationId, round, stageIndex, why, { failure });
  }

  // --- aggregate → DP post-processing → server optimizer → commit ----------------------------------

  /**
   * The model version, its optimizer state, the round's outcome and the privacy-ledger entry land
   * in one transaction: a round is never committed without its cost.
   */
  private async commit(federationId: string, round: ActiveRound, survivors: string[], why: string): Promise<void> {
    const { record, config } = round;
    try {
      const aggregationStart = performance.now();
      await round.protocol.unprotect(round.state, round.ctx, survivors);
      // The DP wrapper (when there is one) clips, sums, adds the noise and divides by the expected sites.
      const { delta, measurements } = round.aggregation.finish();
      checkAggregate(delta, aggregateBound(round, measurements['contributors'] ?? round.aggregation.contributors, this.updateLimits.updateNormBound));
      const baseRecord = this.registry.get(federationId, record.baseVersion);
      const optimizer = serverOptimizerFor(config);
      const { next, state } = optimizer.apply(round.base, delta, this.registry.readOptimizerState(baseRecord));
      checkAggregate(next, Infinity, 'the next model');
      this.emit('aggregated', (performance.now() - aggregationStart) / 1000, federationId);
      const version = (this.registry.latestVersion(federationId) ?? 0) + 1;
      const entry = record.privacy && !releasesAtSite(record.privacy.mode)
        ? await this.privacy.aggregateReleaseEntry(record, record.privacy, version, {
          unclippedCount: measurements['unclippedCount'] ?? 0, contributors: measurements['contributors'] ?? round.aggregation.contributors,
        })
        : null;
      const { blobPath, sha256 } = await this.registry.writeBlob(federationId, version, next);
      const optimizerState = state ? await this.registry.writeOptimizerState(federationId, version, state) : null;
      // Under DP the count is not released; a protocol whose contributions are protected (secagg) never learns it.
      const totalExamples = record.privacy || round.protocol.stages.some((s) => s.contribution) ? 0 : round.aggregation.totalWeight;
      const evaluated = round.evaluation?.result() ?? null;
      const now = this.clock.now();
      this.store.transaction(() => {
        if (entry) this.ledger.insert(federationId, entry);
        this.registry.insertVersion({
          federationId, version, parentVersion: record.baseVersion, roundId: record.id, sha256, numParameters: next.length,
          layout: round.layout, blobPath,
          // Under DP the number of contributors is not released (Poisson sampling hides it).
          metrics: record.privacy ? {} : { updates: round.aggregation.contributors, examples: totalExamples },
          // The version anchors the ledger head it was committed with: dropping newer entries shows.
          ledgerHead: record.privacy ? this.ledger.head(federationId) : null,
          optimizerState,
        });
        this.rounds.markCommitted(record, version, totalExamples, now);
        if (evaluated) this.registry.setMetrics(federationId, record.baseVersion, evaluationMetrics(evaluated));
      });
      Object.assign(record, { state: 'committed', resultVersion: version, closedMs: now, totalExamples });
      this.log.info('round committed', { federation: federationId, round: record.number, version, updates: round.aggregation.contributors, why });
    } catch (err) {
      this.log.error('round could not be committed; aborting it', { federation: federationId, round: record.number, error: String(err) });
      this.rounds.abort(record, `commit failed: ${err instanceof Error ? err.message : String(err)}`, this.clock.now());
    } finally {
      this.dispose(round);
      this.active.delete(federationId);
    }
    this.transition(record);
    if (this.rounds.committedCount(federationId) >= config.rounds) this.finish(federationId, `all ${config.rounds} rounds committed`);
  }

  /** An operator ends the round in progress: nothing is committed; site-release charges stay, since what was sent was sent. */
  abortByOperator(federationId: string, roundId: string, reason: string): RoundRecord {
    const round = this.active.get(federationId);
    if (!round || round.record.id !== roundId || round.closing) {
      const stored = this.rounds.get(roundId);
      if (!stored || stored.federationId !== federationId) throw new ConclaveError('NOT_FOUND', `round ${roundId.slice(0, 64)} does not exist in this federation`);
      throw new ConclaveError('FEDERATION_STATE', `round ${stored.number} is ${stored.state}${round?.closing ? ' (committing)' : ''}; only a round in progress can be aborted`);
    }
    this.abort(federationId, round, reason);
    return round.record;
  }

  private abort(federationId: string, round: ActiveRound, reason: string): void {
    round.closing = true;
    this.rounds.abort(round.record, reason, this.clock.now());
    this.log.warn('round aborted', { federation: federationId, round: round.record.number, stage: round.record.stage, reason });
    this.dispose(round);
    this.active.delete(federationId);
    this.transition(round.record);
  }

  /**
   * A revoked site leaves the current stage's expected set at once, so the stage ends as soon as
   * every remaining site answered instead of waiting for its deadline.
   */
  siteRevoked(federationId: string, siteId: string): void {
    for (const protocol of this.protocols.values()) protocol.siteRevoked?.(federationId, siteId);
    const round = this.active.get(federationId);
    if (!round || round.closing || !round.live.delete(siteId)) return;
    round.answered.delete(siteId);
    this.log.info('revoked site left the round', { federation: federationId, round: round.record.number, site: siteId });
    this.endStageOnceAllAnswered(federationId, round);
  }

  /** A stage whose every live site answered ends without waiting for its deadline. */
  private endStageOnceAllAnswered(federationId: string, round: ActiveRound): void {
    const stageIndex = round.stageIndex;
    if ([...round.live].every((id) => round.answered.has(id))) queueMicrotask(() => this.endStage(federationId, round, stageIndex, 'every live site answered'));
  }

  private isRevoked(siteId: string): boolean {
    const row = this.store.db.prepare('SELECT revoked_ms FROM sites WHERE id = ?').get(siteId) as { revoked_ms: number | null } | undefined;
    return !row || row.revoked_ms !== null;
  }

  private dispose(round: ActiveRound): void {
    round.timer?.cancel();
    round.protocol.dispose?.(round.state);
  }

  private finish(federationId: string, reason: string): void {
    this.markFinished(federationId, reason);
    this.log.info('federation finished', { federation: federationId, reason });
    this.emit('federation', federationId);
  }
}

/**
 * The aggregate's L2 bound: a mean of updates within the per-update bound stays within it; under
 * DP the sites' updates are within the clip norm plus the noise they added (and, under DDG, the
 * rounding to its grid), and the sum is divided by the expected number of sites, with the central
 * noise on top.
 */
function aggregateBound(round: ActiveRound, contributors: number, updateNormBound: number): number {
  const p = round.record.privacy;
  // A mean of n updates within B is within B; a coordinate-wise rule (median, trimmed mean) picks or
  // averages each coordinate among the updates', so its square norm is at most Σ‖Δᵢ‖² ≤ n·B².
  if (!p) return updateNormBound * Math.sqrt(Math.max(1, contributors));
  const size = round.base.length;
  // Under the distributed discrete Gaussian each coordinate is also rounded to the grid γ: at most
  // γ√d more per site (every coordinate moves by less than γ).
  const ddg = p.distributed?.ddg;
  const perSite = p.clipNorm + noiseNormBound(p.siteNoiseStd, size) + (ddg ? ddg.granularity * Math.sqrt(ddg.dim) : 0);
  const central = p.mode === 'central' ? noiseNormBound(p.configuredNoiseMultiplier * p.clipNorm, size) : 0;
  return (contributors * perSite + central) / Math.max(p.expectedSites, Number.MIN_VALUE);
}

/** A round whose result is not finite or beyond the bound aborts instead of publishing a broken model. */
function checkAggregate(values: Float32Array, bound: number, what = 'the aggregate'): void {
  const { ssq, nonFinite } = sumOfSquares(values);
  if (nonFinite >= 0) throw new ConclaveError('NON_FINITE_VALUE', `${what} is not finite at index ${nonFinite}`);
  const norm = Math.sqrt(ssq);
  // 1e-4: float32 rounding of values scaled to exactly the bound.
  if (!(norm <= bound * (1 + 1e-4))) throw new ConclaveError('INVALID_ARGUMENT', `${what} has L2 norm ${norm.toExponential(3)}, beyond the bound ${bound.toExponential(3)}`);
}
