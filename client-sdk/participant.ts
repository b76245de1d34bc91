import type * as grpc from '@grpc/grpc-js';
import type * as tfTypes from '@tensorflow/tfjs';
import { ConclaveError, type RoundPlanMsg, type TensorSpec } from '../protocols/index.ts';
import { selectBackend, type TfBackendName, type TfBackendPreference } from './tfjs/backend.ts';
import { downloadModel, getTask, participantClient, submitUpdate, type ClientTls, type DownloadedModel } from './connection.ts';
import type { Dataset } from './data/dataset.ts';
import { setFlatWeights, getFlatWeights } from './models/weights.ts';
import { modelFromTopology } from './models/export.ts';
import { trainLocal, type TrainProgress, type TrainResult } from './training/trainer.ts';
import { addGaussianNoise, clipToNorm, clippedIndicator } from '../crypto/dp/index.ts';
import { SitePrivacyGuard, siteReleaseStd, type PrivacyFloorOptions, type PrivacySummary, type RefusalReason } from './privacy-policy.ts';

export interface ParticipantOptions {
  /** host:port of the coordinator. */
  coordinator: string;
  /** The site token the operator issued at enrollment. */
  token: string;
  /** This site's local training data; it never leaves the process. */
  data: Dataset;
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
}

export type ParticipantEvent =
  | { type: 'backend'; backend: TfBackendName; reason: string }
  | { type: 'waiting'; reason: string }
  | { type: 'round-started'; round: number; roundId: string; modelVersion: number }
  | { type: 'model-downloaded'; version: number; parameters: number }
  | { type: 'training'; round: number; progress: TrainProgress }
  | { type: 'trained'; round: number; result: TrainResult }
  | { type: 'submitted'; round: number; receivedUpdates: number }
  | { type: 'round-skipped'; round: number; code: string; reason: string }
  /** The plan is below the site's privacy floor (or its budget): nothing was trained or sent. */
  | { type: 'round-refused'; round: number; roundId: string; reason: RefusalReason; message: string }
  /** A local/distributed-DP release was charged to the site's own accountant; it is sent next. */
  | { type: 'privacy-charged'; round: number; noiseMultiplier: number; privacy: PrivacySummary }
  /** The site's budget cannot pay the federation's next release: the site stops (the last event). */
  | { type: 'site-budget-exhausted'; round: number; message: string; privacy: PrivacySummary }
  | { type: 'reconnecting'; attempt: number; reason: string }
  | { type: 'finished'; finalModelVersion: number };

/** Context every site-side stage sees for one round; stages may add to what the update reports. */
export interface SiteRoundContext {
  plan: RoundPlanMsg;
  layout: TensorSpec[];
  numExamples: number;
  report: { unclipped?: boolean };
}

/**
 * Site half of a privacy mechanism (clip, noise, quantize, mask, encrypt): takes the delta the
 * previous stage produced and returns what the next one gets. The coordinator runs the mirror
 * stages in reverse. With protection `none` the chain is empty and the delta goes out as trained.
 */
export interface SiteStage {
  readonly name: string;
  apply(delta: Float32Array, ctx: SiteRoundContext): Promise<Float32Array> | Float32Array;
}

/** Client-level DP: bound each site's contribution to the sum (McMahan et al. 2018). */
const clipStage: SiteStage = {
  name: 'clip',
  apply(delta, ctx) {
    const clipNorm = ctx.plan.dp!.clipNorm;
    const { norm } = clipToNorm(delta, clipNorm);
    // Adaptive clipping (Andrew et al. 2021) needs only this bit, released under the coordinator's noised count.
    if (ctx.plan.dp!.reportUnclipped) ctx.report.unclipped = clippedIndicator(norm, clipNorm) === 1;
    return delta;
  },
};

/**
 * Gaussian noise the site adds itself: its share of the total (distributed DP, so the sum carries
 * the full σC), or all of it (local DP, std from the analytic Gaussian at sensitivity 2C). Never
 * less than the multiplier the plan charges claims, whichever of the plan's numbers is larger.
 */
const siteNoiseStage: SiteStage = {
  name: 'site-gaussian',
  apply(delta, ctx) {
    addGaussianNoise(delta, siteReleaseStd(ctx.plan.dp!));
    return delta;
  },
};

/** The site half of the round's mechanism chain, in order: privatize, then protect. */
export function siteStagesFor(plan: RoundPlanMsg): SiteStage[] {
  const stages: SiteStage[] = [];
  if (plan.dp) {
    if (!['central', 'distributed', 'local'].includes(plan.dp.mode)) throw new ConclaveError('INVALID_ARGUMENT', `unknown DP mode "${plan.dp.mode}"`);
    if (!(plan.dp.clipNorm > 0)) throw new ConclaveError('INVALID_ARGUMENT', 'the round plan has no valid clip norm');
    stages.push(clipStage);
    if (plan.dp.mode !== 'central') {
      if (!(plan.dp.siteNoiseStd > 0)) throw new ConclaveError('INVALID_ARGUMENT', `a ${plan.dp.mode} DP round needs a positive site noise std`);
      stages.push(siteNoiseStage);
    }
  }
  switch (plan.protection) {
    case 'none':
    case '':
      return stages;
    default:
      throw new ConclaveError('INVALID_ARGUMENT', `this SDK does not support protection "${plan.protection}"`);
  }
}

const RETRYABLE = new Set(['UNAVAILABLE']);
/** Refusals that end this round for the site but not its participation. */
const ROUND_SKIPPING = new Set(['ROUND_CLOSED', 'DUPLICATE_SUBMISSION', 'NOT_SELECTED', 'NOT_FOUND']);

type Tf = typeof tfTypes;

/** The site's model, rebuilt only when the federation's architecture changes. */
interface ModelCache {
  tf: Tf;
  model: tfTypes.LayersModel | null;
  topologyJson: string;
}

async function modelFor(cache: ModelCache, topologyJson: string): Promise<tfTypes.LayersModel> {
  if (cache.model && cache.topologyJson === topologyJson) return cache.model;
  cache.model?.dispose();
  cache.model = await modelFromTopology(cache.tf, topologyJson);
  cache.topologyJson = topologyJson;
  return cache.model;
}

/**
 * A site in a federation: connect with its token, then for every round it is selected for,
 * fetch the plan and model (digest checked), train locally, run the protection stages, submit.
 * `run()` is an async iterator of progress events so a CLI and a test consume the same stream.
 */
export class Participant {
  private readonly options: Required<Omit<ParticipantOptions, 'tls' | 'privacyFloor'>> & Pick<ParticipantOptions, 'tls'>;
  /** Null without a privacy floor; built (and its state file validated) when the site is constructed. */
  private readonly privacy: SitePrivacyGuard | null;

  constructor(options: ParticipantOptions) {
    if (!options.coordinator) throw new ConclaveError('INVALID_ARGUMENT', 'coordinator address is required');
    if (!options.token) throw new ConclaveError('INVALID_ARGUMENT', 'site token is required');
    if (!options.data || options.data.count < 1) throw new ConclaveError('INVALID_ARGUMENT', 'a participant needs at least one local example');
    const { privacyFloor, ...rest } = options;
    this.options = { backend: 'auto', reconnectTimeoutMs: 60_000, pollWaitMs: 5_000, ...rest };
    this.privacy = privacyFloor ? new SitePrivacyGuard(privacyFloor) : null;
  }

  async *run(): AsyncGenerator<ParticipantEvent, void> {
    const { tf, backend, reason } = await selectBackend({ prefer: this.options.backend });
    yield { type: 'backend', backend, reason };
    const client = participantClient(this.options.coordinator, this.options.tls);
    const cache: ModelCache = { tf, model: null, topologyJson: '' };
    // The coordinator offers a round until the site submits or the round closes; a refused one is not re-announced.
    let refusedRoundId = '';
    try {
      for (;;) {
        const task = yield* this.withReconnect(() => getTask(client, this.options.token, this.options.pollWaitMs));
        if (task.task === 'finished') {
          yield { type: 'finished', finalModelVersion: task.finished.finalModelVersion };
          return;
        }
        if (task.task === 'wait') {
          yield { type: 'waiting', reason: task.wait.reason };
          await sleep(task.wait.retryAfterMs);
          continue;
        }
        if (task.round.roundId === refusedRoundId) {
          await sleep(Math.min(1_000, this.options.pollWaitMs));
          continue;
        }
        try {
          const outcome = yield* this.runRound(client, cache, task.round);
          if (outcome === 'refused') refusedRoundId = task.round.roundId;
          if (outcome === 'exhausted') return;
        } catch (err) {
          // A round can close under us (deadline, coordinator restart): that costs this round, not the site.
          if (err instanceof ConclaveError && ROUND_SKIPPING.has(err.code)) {
            yield { type: 'round-skipped', round: task.round.roundNumber, code: err.code, reason: err.message };
            continue;
          }
          throw err;
        }
      }
    } finally {
      cache.model?.dispose();
      client.close();
    }
  }

  /** One round, as the site half of the pipeline: check the plan → fetch → train → privatize/protect → charge → submit. */
  private async *runRound(client: grpc.Client, cache: ModelCache, plan: RoundPlanMsg): AsyncGenerator<ParticipantEvent, 'submitted' | 'refused' | 'exhausted'> {
    yield { type: 'round-started', round: plan.roundNumber, roundId: plan.roundId, modelVersion: plan.modelVersion };
    const decision = this.privacy?.decide(plan.dp) ?? { accept: true as const, charge: null };
    if (!decision.accept) {
      yield { type: 'round-refused', round: plan.roundNumber, roundId: plan.roundId, reason: decision.reason, message: decision.message };
      if (decision.reason !== 'site-budget-exhausted') return 'refused';
      // The federation's configuration sets the noise, so its next plans cost about the same: stop rather than poll on.
      yield { type: 'site-budget-exhausted', round: plan.roundNumber, message: decision.message, privacy: this.privacy!.summary() };
      return 'exhausted';
    }
    const global: DownloadedModel = yield* this.withReconnect(() =>
      downloadModel(client, this.options.token, { federationId: plan.federationId, version: plan.modelVersion }));
    if (!global.sha256.equals(plan.modelSha256)) {
      throw new ConclaveError('DIGEST_MISMATCH', `model v${global.version} does not match the digest in the round plan`);
    }
    yield { type: 'model-downloaded', version: global.version, parameters: global.values.length };
    const model = await modelFor(cache, global.topologyJson);
    setFlatWeights(model, global.layout, global.values);

    const training = trainLocal(model, this.options.data, {
      epochs: plan.training.localEpochs, batchSize: plan.training.batchSize, learningRate: plan.training.learningRate,
      optimizer: plan.training.optimizer === 'adam' ? 'adam' : 'sgd', seed: plan.seed,
    });
    let step = await training.next();
    while (!step.done) {
      if (step.value.kind === 'epoch') yield { type: 'training', round: plan.roundNumber, progress: step.value };
      step = await training.next();
    }
    const result = step.value;
    yield { type: 'trained', round: plan.roundNumber, result };

    const local = getFlatWeights(model).values;
    let delta: Float32Array = new Float32Array(local.length);
    for (let i = 0; i < local.length; i++) delta[i] = local[i]! - global.values[i]!;
    const ctx: SiteRoundContext = { plan, layout: global.layout, numExamples: result.numExamples, report: {} };
    for (const stage of siteStagesFor(plan)) delta = await stage.apply(delta, ctx);

    if (decision.charge !== null) {
      // Charged before the first byte leaves: an upload that fails half-way may still have released it.
      const privacy = this.privacy!.charge({ federationId: plan.federationId, roundId: plan.roundId, round: plan.roundNumber, noiseMultiplier: decision.charge });
      yield { type: 'privacy-charged', round: plan.roundNumber, noiseMultiplier: decision.charge, privacy };
    }
    // Under local/distributed DP the coordinator is not trusted: only the privatized update leaves the
    // site (0 = withheld). Under central DP it is, and the counts and metrics go as before.
    const withhold = plan.dp !== null && plan.dp.mode !== 'central';
    const response = yield* this.withReconnect(() => submitUpdate(client, this.options.token, {
      roundId: plan.roundId, numExamples: withhold ? 0 : result.numExamples, layout: global.layout, values: delta,
      trainLoss: withhold ? 0 : finiteOr(result.loss, 0), trainAccuracy: withhold ? 0 : finiteOr(result.accuracy, 0),
      unclipped: withhold ? false : ctx.report.unclipped ?? false,
    }));
    yield { type: 'submitted', round: plan.roundNumber, receivedUpdates: response.receivedUpdates };
    return 'submitted';
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
