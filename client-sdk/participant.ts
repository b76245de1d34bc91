import { ConclaveError, type RoundPlanMsg, type StageTaskMsg } from '../protocols/index.ts';
import type { TfBackendPreference } from './tfjs/backend.ts';
import type { ClientTls } from './connection.ts';
import type { Dataset } from './data/dataset.ts';
import { isSiteData, type SiteData } from './data/site-data.ts';
import type { TrainProgress, TrainResult } from './training/trainer.ts';
import type { LocalTrainer } from './training/local-trainer.ts';
import { grpcTransport, type ParticipantTransport } from './transport.ts';
import { privatize } from './privatize.ts';
import type { SiteContribution, SiteProtocol, SiteRoundContext } from './protection/protocol.ts';
import { UpdateCompressor } from './compression.ts';
import { noProtection } from './protection/none.ts';
import { secureAggregation } from './protection/secagg.ts';
import { heSiteProtocol } from './protection/he.ts';
import { SitePrivacyGuard, type PrivacyFloorOptions, type PrivacySummary, type RefusalReason } from './privacy-policy.ts';
import type { WorkerInfo } from './training/worker-report.ts';
import { generateSiteIdentity, type SiteIdentity } from '../crypto/site-identity.ts';

export interface ParticipantOptions {
  /** host:port of the coordinator (with `token`), unless a transport is given. */
  coordinator?: string;
  /** The site token the operator issued at enrollment. */
  token?: string;
  /** How to reach the coordinator; default gRPC to `coordinator` with `token`. */
  transport?: ParticipantTransport;
  /**
   * This site's local training data; it never leaves the process. Needed by the default trainer.
   * A Dataset, or the site's own files (`csvData`, `imageFolderData`), fitted to the federation's
   * model and data spec when the first round arrives, before any training.
   */
  data?: Dataset | SiteData;
  /**
   * The site's held-out split, for federated evaluation: when a round plan asks, the site reports
   * the round's base model's loss and accuracy on it (aggregates only). Omitted: never evaluates.
   */
  evalData?: Dataset;
  /** Local training; default tfjs on `data` (client-sdk/training/tfjs-trainer.ts). A site's worker pool plugs in here. */
  trainer?: LocalTrainer;
  /** Site halves of protection protocols by name, besides the built-in ones. */
  protocols?: ReadonlyMap<string, SiteProtocol>;
  backend?: TfBackendPreference;
  /** How long to keep retrying while the coordinator is unreachable before giving up. */
  reconnectTimeoutMs?: number;
  /** Long-poll wait per GetTask call. */
  pollWaitMs?: number;
  /** TLS to the coordinator; omit only on loopback. */
  tls?: ClientTls;
  /**
   * The site's own privacy bounds (client-sdk/privacy-policy.ts): plans below them are refused
   * before training, and under local/distributed DP the site keeps its own budget. Omitted: the
   * site follows the coordinator's plan.
   */
  privacyFloor?: PrivacyFloorOptions;
  /**
   * The site's Ed25519 identity key (crypto/site-identity.ts). The coordinator pins the first one it
   * sees, so a site that restarts keeps its key in a file (`participant run --identity-key`);
   * default: a new key for this Participant's lifetime.
   */
  identity?: SiteIdentity;
}

export type ParticipantEvent =
  /** What local training runs on (a tfjs backend name for the default trainer). */
  | { type: 'backend'; backend: string; reason: string; workers?: WorkerInfo[] }
  | { type: 'waiting'; reason: string }
  | { type: 'round-started'; round: number; roundId: string; modelVersion: number }
  | { type: 'model-downloaded'; version: number; parameters: number }
  | { type: 'training'; round: number; progress: TrainProgress }
  | { type: 'trained'; round: number; result: TrainResult }
  /** Federated evaluation: the plan's model scored on the site's held-out split (reported with the update). */
  | { type: 'evaluated'; round: number; modelVersion: number; examples: number; loss: number; accuracy: number }
  | { type: 'submitted'; round: number; receivedUpdates: number }
  /** A later stage of the round's protection protocol: its message was sent. */
  | { type: 'stage-sent'; round: number; stage: string }
  | { type: 'round-skipped'; round: number; code: string; reason: string }
  /** The plan is below the site's privacy floor (or its budget): nothing was trained or sent. */
  | { type: 'round-refused'; round: number; roundId: string; reason: RefusalReason; message: string }
  /** A local/distributed-DP release was charged to the site's own accountant; it is sent next. */
  | { type: 'privacy-charged'; round: number; noiseMultiplier: number; privacy: PrivacySummary }
  /** The site's budget cannot pay the federation's next release: the site stops (the last event). */
  | { type: 'site-budget-exhausted'; round: number; message: string; privacy: PrivacySummary }
  | { type: 'reconnecting'; attempt: number; reason: string }
  | { type: 'finished'; finalModelVersion: number };

export const BUILT_IN_PROTOCOLS: ReadonlyMap<string, SiteProtocol> = new Map([[noProtection.name, noProtection], [secureAggregation.name, secureAggregation]]);

const RETRYABLE = new Set(['UNAVAILABLE', 'RATE_LIMITED']);
/** Refusals that end this round for the site but not its participation. */
const ROUND_SKIPPING = new Set(['ROUND_CLOSED', 'DUPLICATE_SUBMISSION', 'NOT_SELECTED', 'NOT_FOUND', 'UPDATE_REFUSED']);

/**
 * A site in a federation: connect with its token, then for every round it is selected for,
 * fetch the plan and model (digest checked), train locally, privatize, and take part in each stage
 * of the round's protection protocol while the coordinator has tasks for it. A round's context
 * (and any secret a protocol keeps) stays in memory and is dropped when the round is over.
 * `run()` is an async iterator of progress events so a CLI and a test consume the same stream.
 */
export class Participant {
  private readonly options: { reconnectTimeoutMs: number; pollWaitMs: number };
  private readonly makeTransport: () => ParticipantTransport;
  private readonly makeTrainer: () => Promise<LocalTrainer>;
  private readonly protocols: ReadonlyMap<string, SiteProtocol>;
  /** Null without a privacy floor; built (and its state file validated) when the site is constructed. */
  private readonly privacy: SitePrivacyGuard | null;
  /** Rounds this site is in, by id: the plan and the protocol's secrets, in memory only. */
  private readonly rounds = new Map<string, { ctx: SiteRoundContext; protocol: SiteProtocol }>();
  private readonly evalData: Dataset | null;
  /** Update compression, with the top-k residual carried from round to round (memory only). */
  private readonly compressor = new UpdateCompressor();
  private readonly identity: SiteIdentity;
  /** Neighbours' identity keys as first seen, for the life of this Participant. */
  private readonly peerIdentities = new Map<string, Uint8Array>();

  constructor(options: ParticipantOptions) {
    const { transport, coordinator, token, tls, data, trainer, backend } = options;
    if (!transport) {
      if (!coordinator) throw new ConclaveError('INVALID_ARGUMENT', 'coordinator address is required');
      if (!token) throw new ConclaveError('INVALID_ARGUMENT', 'site token is required');
    }
    if (!trainer && (!data || data.count < 1)) throw new ConclaveError('INVALID_ARGUMENT', 'a participant needs at least one local example');
    this.options = { reconnectTimeoutMs: options.reconnectTimeoutMs ?? 60_000, pollWaitMs: options.pollWaitMs ?? 5_000 };
    this.makeTransport = transport ? () => transport : () => grpcTransport(coordinator!, token!, tls);
    // tfjs is loaded only when the default trainer is used: an injected trainer needs none of it.
    this.makeTrainer = trainer ? async () => trainer
      : isSiteData(data) ? async () => new (await import('./training/site-data-trainer.ts')).SiteDataTrainer(data, backend ?? 'auto')
      : async () => new (await import('./training/tfjs-trainer.ts')).TfjsTrainer(data!, backend ?? 'auto');
    // Protection "he" keeps the federation's CKKS key between rounds: one instance per site.
    this.protocols = new Map([...BUILT_IN_PROTOCOLS, ['he', heSiteProtocol()], ...(options.protocols ?? [])]);
    this.privacy = options.privacyFloor ? new SitePrivacyGuard(options.privacyFloor) : null;
    this.evalData = options.evalData && options.evalData.count > 0 ? options.evalData : null;
    this.identity = options.identity ?? generateSiteIdentity();
  }

  async *run(): AsyncGenerator<ParticipantEvent, void> {
    const trainer = await this.makeTrainer();
    const { backend, reason, workers } = await trainer.init();
    yield { type: 'backend', backend, reason, ...(workers ? { workers } : {}) };
    const transport = this.makeTransport();
    // The coordinator offers a round until the site submits or the round closes; a refused one is not re-announced.
    let refusedRoundId = '';
    try {
      for (;;) {
        const task = yield* this.withReconnect(() => transport.getTask(this.options.pollWaitMs));
        if (task.task === 'finished') {
          yield { type: 'finished', finalModelVersion: task.finished.finalModelVersion };
          return;
        }
        if (task.task === 'wait') {
          yield { type: 'waiting', reason: task.wait.reason };
          await sleep(task.wait.retryAfterMs);
          continue;
        }
        const roundNumber = task.task === 'round' ? task.round.roundNumber : task.stage.roundNumber;
        try {
          if (task.task === 'stage') {
            yield* this.runStage(transport, task.stage);
            continue;
          }
          if (task.round.roundId === refusedRoundId) {
            await sleep(Math.min(1_000, this.options.pollWaitMs));
            continue;
          }
          // A new plan means every earlier round is over for this site: forget their secrets.
          this.rounds.clear();
          const outcome = yield* this.runRound(transport, trainer, task.round);
          if (outcome === 'refused') refusedRoundId = task.round.roundId;
          if (outcome === 'exhausted') return;
        } catch (err) {
          // A round can close under us (deadline, coordinator restart): that costs this round, not the site.
          if (err instanceof ConclaveError && ROUND_SKIPPING.has(err.code)) {
            yield { type: 'round-skipped', round: roundNumber, code: err.code, reason: err.message };
            continue;
          }
          throw err;
        }
      }
    } finally {
      this.rounds.clear();
      trainer.dispose();
      transport.close();
    }
  }

  /** The first stage, as the site half of the pipeline: check the plan → fetch → train → privatize → charge → send. */
  private async *runRound(transport: ParticipantTransport, trainer: LocalTrainer, plan: RoundPlanMsg): AsyncGenerator<ParticipantEvent, 'submitted' | 'refused' | 'exhausted'> {
    yield { type: 'round-started', round: plan.roundNumber, roundId: plan.roundId, modelVersion: plan.modelVersion };
    const protocolName = plan.protectionPlan?.protocol || plan.protection || 'none';
    const protocol = this.protocols.get(protocolName);
    if (!protocol) throw new ConclaveError('INVALID_ARGUMENT', `this SDK does not support protection "${protocolName.slice(0, 64)}"`);
    const decision = this.privacy?.decide(plan.dp, plan.protectionPlan) ?? { accept: true as const, charge: null };
    if (!decision.accept) {
      yield { type: 'round-refused', round: plan.roundNumber, roundId: plan.roundId, reason: decision.reason, message: decision.message };
      if (decision.reason !== 'site-budget-exhausted') return 'refused';
      // The federation's configuration sets the noise, so its next plans cost about the same: stop rather than poll on.
      yield { type: 'site-budget-exhausted', round: plan.roundNumber, message: decision.message, privacy: this.privacy!.summary() };
      return 'exhausted';
    }
    const global = yield* this.withReconnect(() => transport.downloadModel({ federationId: plan.federationId, version: plan.modelVersion }));
    if (!global.sha256.equals(plan.modelSha256)) {
      throw new ConclaveError('DIGEST_MISMATCH', `model v${global.version} does not match the digest in the round plan`);
    }
    yield { type: 'model-downloaded', version: global.version, parameters: global.values.length };
    // Only asked for without DP (the schema refuses it with DP): the metrics are released in the clear.
    let evaluation: SiteContribution['evaluation'];
    if (plan.evaluate && plan.dp === null && this.evalData && trainer.evaluate) {
      const e = await trainer.evaluate(global, this.evalData);
      evaluation = { examples: this.evalData.count, loss: finiteOr(e.loss, 0), accuracy: finiteOr(e.accuracy, 0) };
      yield { type: 'evaluated', round: plan.roundNumber, modelVersion: global.version, ...evaluation };
    }

    const training = trainer.train(global, plan);
    let step = await training.next();
    while (!step.done) {
      yield { type: 'training', round: plan.roundNumber, progress: step.value };
      step = await training.next();
    }
    const { delta: trained, ...result } = step.value;
    yield { type: 'trained', round: plan.roundNumber, result };
    const { delta, unclipped } = privatize(trained, plan);

    if (decision.charge !== null) {
      // Charged before the first byte leaves: an upload that fails half-way may still have released it.
      const privacy = this.privacy!.charge({ federationId: plan.federationId, roundId: plan.roundId, round: plan.roundNumber, noiseMultiplier: decision.charge, ...(decision.ddg ? { ddg: decision.ddg } : {}) });
      yield { type: 'privacy-charged', round: plan.roundNumber, noiseMultiplier: decision.charge, privacy };
    }
    // Under local/distributed DP the coordinator is not trusted: only the privatized update leaves the
    // site (0 = withheld). Under central DP it is, and the counts and metrics go as before.
    const withhold = plan.dp !== null && plan.dp.mode !== 'central';
    const ctx: SiteRoundContext = { plan, layout: global.layout, secrets: new Map(), compressor: this.compressor, identity: this.identity, peerIdentities: this.peerIdentities };
    this.rounds.set(plan.roundId, { ctx, protocol });
    const message = await protocol.first(ctx, {
      delta, numExamples: withhold ? 0 : result.numExamples, trainLoss: withhold ? 0 : finiteOr(result.loss, 0),
      trainAccuracy: withhold ? 0 : finiteOr(result.accuracy, 0), unclipped: withhold ? false : unclipped, ...(evaluation ? { evaluation } : {}),
    });
    const response = yield* this.withReconnect(() => transport.submitStage(message));
    yield { type: 'submitted', round: plan.roundNumber, receivedUpdates: response.received };
    return 'submitted';
  }

  /** A later stage of a round this site is in: the protocol answers from the round's context. */
  private async *runStage(transport: ParticipantTransport, task: StageTaskMsg): AsyncGenerator<ParticipantEvent, void> {
    const round = this.rounds.get(task.roundId);
    if (!round) {
      // This site holds no context for that round (it restarted, or never took part): it cannot answer.
      throw new ConclaveError('ROUND_CLOSED', `no context for round ${task.roundNumber}; this site cannot take part in its stage "${task.stage.slice(0, 64)}"`);
    }
    const tensor = task.tensor ? yield* this.withReconnect(() => transport.downloadStageTensor(task)) : null;
    const message = await round.protocol.stage(round.ctx, task, tensor);
    yield* this.withReconnect(() => transport.submitStage(message));
    yield { type: 'stage-sent', round: task.roundNumber, stage: task.stage };
  }

  /** Retries a call while the coordinator is unreachable (e.g. restarting after a crash), with capped backoff. */
  private async *withReconnect<T>(fn: () => Promise<T>): AsyncGenerator<ParticipantEvent, T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const code = err instanceof ConclaveError ? err.code : 'INTERNAL';
        if (!RETRYABLE.has(code) || Date.now() - started > this.options.reconnectTimeoutMs) throw err;
        yield { type: 'reconnecting', attempt, reason: err instanceof Error ? err.message : String(err) };
        await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
  }
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
