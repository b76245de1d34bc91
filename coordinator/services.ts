import { once } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import {
  ConclaveError, TensorAssembler, toServiceError,
  type DownloadModelRequestMsg, type DownloadStageTensorRequestMsg, type StageTensorMsg, type FederationConfigMsg, type FederationMsg, type GetTaskResponseMsg, type ModelStreamMsg,
  type ModelVersionMsg, type ResumeStageRequestMsg, type ResumeStageResponseMsg, type RoundMsg, type StageStreamMsg, type SubmitStageResponseMsg,
} from '../protocols/index.ts';
import type { Authenticator, Caller } from './auth.ts';
import { siteNames, type Federations, type FederationRecord } from './federations.ts';
import { PrivacyLedger } from './privacy/ledger.ts';
import type { ModelRegistry, ModelVersionRecord } from './model-registry.ts';
import { evaluationFromMetrics } from './evaluation/federated-evaluation.ts';
import type { RoundManager, RoundProgress, RoundRecord } from './rounds.ts';
import { siteReport } from './site-report.ts';
import { ParticipantEndpoint, type SiteCaller } from './participant-endpoint.ts';
import { DEFAULT_ADMIN_RATE_LIMITS, TokenLimiter, quote, type RateLimits, type StreamLimits } from './limits.ts';
import { configMessage } from './federation-config.ts';
import { receiveFederation, type CreateFederationCall } from './federation-upload.ts';
import { resumeOffset } from './transfer-resume.ts';
import type { EpsilonReportMsg, GetLedgerResponseMsg, ListSitesResponseMsg } from '../protocols/index.ts';
import type { Logger } from './logger.ts';
import type { Store } from './store.ts';

export interface ServiceDeps {
  auth: Authenticator;
  federations: Federations;
  registry: ModelRegistry;
  rounds: RoundManager;
  ledger: PrivacyLedger;
  store: Store;
  log: Logger;
  jwksJson: string;
  /** Per-token call rate and concurrency on the participant service (limits.ts defaults). */
  rateLimits?: RateLimits;
  /** The same for admin tokens (limits.ts DEFAULT_ADMIN_RATE_LIMITS). */
  adminRateLimits?: RateLimits;
  /** Idle and overall deadlines of stage streams (limits.ts defaults). */
  streamLimits?: StreamLimits;
}


type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/** Wraps an async handler so every throw becomes the one gRPC status its error code maps to. */
function unary<Req, Res>(log: Logger, name: string, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): Unary<Req, Res> {
  return (call, callback) => respond(log, name, fn(call), callback);
}

/** Sends a handler's result, or the one status its error code maps to (unary and client-streaming calls). */
function respond<Res>(log: Logger, name: string, result: Promise<Res>, callback: grpc.sendUnaryData<Res>): void {
  result.then((res) => callback(null, res), (err: unknown) => {
    logFailure(log, name, err);
    callback(toServiceError(err) as grpc.ServiceError);
  });
}

function logFailure(log: Logger, rpc: string, err: unknown): void {
  if (err instanceof ConclaveError) log.warn('rpc refused', { rpc, code: err.code, reason: quote(err.message, 300) });
  else log.error('rpc failed', { rpc, error: err instanceof Error ? err.stack : String(err) });
}

function requireFederation(caller: Caller, federationId: string): void {
  if (caller.role === 'site' && caller.federationId !== federationId) {
    throw new ConclaveError('FORBIDDEN', 'site tokens only give access to their own federation');
  }
}

async function streamModel(deps: ServiceDeps, caller: Caller, call: grpc.ServerWritableStream<DownloadModelRequestMsg, ModelStreamMsg>): Promise<void> {
  const req = call.request;
  const federationId = req.federationId || caller.federationId || '';
  requireFederation(caller, federationId);
  const federation = deps.federations.get(federationId);
  const version = req.latest ? deps.registry.latestVersion(federationId) : req.version;
  if (version === null) throw new ConclaveError('NOT_FOUND', 'federation has no model');
  const record = deps.registry.get(federationId, version);
  const chunks = deps.registry.servedChunks(record);
  // servedChunks verified the bytes against the recorded digest (and their count): no need to hash them again.
  const header = { layout: record.layout, totalElements: record.numParameters, sha256: record.sha256, chunkCount: chunks.length };
  const from = resumeOffset(req, header);
  call.write({ part: 'header', header: { federationId, version, topologyJson: federation.topologyJson, tensor: header } });
  for (let index = from; index < chunks.length; index++) {
    if (call.cancelled) return;
    // Respect HTTP/2 flow control: never queue the whole model in memory for a slow reader.
    if (!call.write(chunks[index] as unknown as ModelStreamMsg)) await once(call, 'drain');
  }
  call.end();
}

function serverStream<Req, Res>(deps: ServiceDeps, name: string, role: 'site' | 'admin',
  fn: (caller: Caller, call: grpc.ServerWritableStream<Req, Res>) => Promise<void>, limiter?: TokenLimiter) {
  return (call: grpc.ServerWritableStream<Req, Res>) => {
    deps.auth.authenticate(call.metadata, role).then(async (caller) => {
      const release = await limiter?.acquire(caller.tokenId);
      try {
        await fn(caller, call);
      } finally {
        release?.();
      }
    }).catch((err: unknown) => {
      logFailure(deps.log, name, err);
      // grpc-js turns an 'error' event on a server stream into the call's status; destroy() would leave the client hanging.
      call.emit('error', toServiceError(err));
    });
  };
}

export function participantHandlers(deps: ServiceDeps): grpc.UntypedServiceImplementation {
  const { auth, log } = deps;
  const endpoint = new ParticipantEndpoint(deps);
  const limiter = new TokenLimiter(deps.rateLimits);
  /** Authenticates, then holds one of the token's call slots until `fn` settles (issue 13: hot polling, idle streams). */
  const limited = async <T>(metadata: grpc.Metadata, fn: (caller: SiteCaller, raw: Caller) => Promise<T>): Promise<T> => {
    const caller = await auth.authenticate(metadata, 'site');
    const release = await limiter.acquire(caller.tokenId);
    try {
      return await fn({ siteId: caller.subject, federationId: caller.federationId! }, caller);
    } finally {
      release();
    }
  };
  return {
    GetTask: unary<{ waitMs: number }, GetTaskResponseMsg>(log, 'GetTask', (call) =>
      limited(call.metadata, (caller) => endpoint.getTask(caller, call.request.waitMs, () => call.cancelled))),

    DownloadModel: (call: grpc.ServerWritableStream<DownloadModelRequestMsg, ModelStreamMsg>) => {
      limited(call.metadata, (_caller, raw) => streamModel(deps, raw, call)).catch((err: unknown) => {
        logFailure(deps.log, 'DownloadModel', err);
        call.emit('error', toServiceError(err));
      });
    },

    SubmitStage: (call: grpc.ServerReadableStream<StageStreamMsg, SubmitStageResponseMsg>, callback: grpc.sendUnaryData<SubmitStageResponseMsg>) =>
      respond(log, 'SubmitStage', limited(call.metadata, (caller) => endpoint.submitStage(caller, call as AsyncIterable<StageStreamMsg>)), callback),

    ResumeStage: unary<ResumeStageRequestMsg, ResumeStageResponseMsg>(log, 'ResumeStage', (call) =>
      limited(call.metadata, async (caller) => endpoint.resumeStage(caller, call.request))),
    DownloadStageTensor: (call: grpc.ServerWritableStream<DownloadStageTensorRequestMsg, StageTensorMsg>) => {
      limited(call.metadata, async (caller) => {
        for (const msg of endpoint.stageTensor(caller, call.request.roundId, call.request.stage)) {
          if (call.cancelled) return;
          // Respect HTTP/2 flow control: a slow reader never makes the coordinator queue the whole tensor.
          if (!call.write(msg)) await once(call, 'drain');
        }
        call.end();
      }).catch((err: unknown) => {
        logFailure(deps.log, 'DownloadStageTensor', err);
        call.emit('error', toServiceError(err));
      });
    },
  };
}

// --- admin ---------------------------------------------------------------------------------------

export function adminHandlers(deps: ServiceDeps): grpc.UntypedServiceImplementation {
  const { auth, federations, registry, rounds, log } = deps;
  const limiter = new TokenLimiter(deps.adminRateLimits ?? DEFAULT_ADMIN_RATE_LIMITS);
  const roundMessage = (round: RoundRecord) => roundMessageWith(round, rounds.progress(round.federationId), registry);
  const admin = <Req, Res>(name: string, fn: (req: Req) => Promise<Res> | Res): Unary<Req, Res> =>
    unary<Req, Res>(log, name, async (call) => {
      const release = await limiter.acquire((await auth.authenticate(call.metadata, 'admin')).tokenId);
      try {
        return await fn(call.request);
      } finally {
        release();
      }
    });
  return {
    CreateFederation: (call: CreateFederationCall, callback: grpc.sendUnaryData<FederationMsg>) => respond(log, 'CreateFederation', (async () => {
      const release = await limiter.acquire((await auth.authenticate(call.metadata, 'admin')).tokenId);
      const created = await receiveFederation(federations, call).finally(release);
      log.info('federation created', { federation: created.id, name: created.name, model: created.config.model });
      return federationMessage(deps, created);
    })(), callback),
    GetFederation: admin<{ federationId: string }, FederationMsg>('GetFederation', (req) => federationMessage(deps, federations.get(req.federationId))),
    StartFederation: admin<{ federationId: string }, FederationMsg>('StartFederation', (req) => {
      federations.get(req.federationId);
      rounds.assertBudgetRemains(req.federationId);
      return federationMessage(deps, federations.start(req.federationId));
    }),
    EnrollSite: admin<{ federationId: string; siteName: string; tokenTtlS: number; budgetEpsilon: number; sampleRate: number; maxExamples: number }, { siteId: string; token: string }>('EnrollSite',
      (req) => federations.enrollSite(req.federationId, req.siteName, req.tokenTtlS, {
        // proto3 has no "unset" for doubles: 0 means "use the federation's".
        budgetEpsilon: req.budgetEpsilon === 0 ? null : req.budgetEpsilon,
        sampleRate: req.sampleRate === 0 ? null : req.sampleRate,
      }, req.maxExamples === 0 ? null : req.maxExamples)),
    GetLedger: admin<{ federationId: string }, GetLedgerResponseMsg>('GetLedger', (req) => ledgerReport(deps, req.federationId)),
    AbortRound: admin<{ federationId: string; roundId: string; reason: string }, RoundMsg>('AbortRound', (req) => {
      const reason = `aborted by the operator${req.reason ? `: ${req.reason.slice(0, 200)}` : ''}`;
      const round = rounds.abortByOperator(req.federationId, req.roundId, reason);
      log.warn('round aborted by the operator', { federation: req.federationId, round: round.number });
      return roundMessage(round);
    }),
    RollbackModel: admin<{ federationId: string; version: number }, FederationMsg>('RollbackModel', (req) => {
      const federation = federations.rollback(req.federationId, req.version);
      log.info('model rolled back', { federation: req.federationId, nextBase: req.version });
      return federationMessage(deps, federation);
    }),
    RevokeSite: admin<{ federationId: string; siteId: string }, { revoked: boolean }>('RevokeSite', (req) => {
      const revoked = federations.revokeSite(req.federationId, req.siteId);
      rounds.siteRevoked(req.federationId, req.siteId);
      log.info('site revoked', { federation: req.federationId, site: quote(req.siteId) });
      return { revoked };
    }),
    ListRounds: admin<{ federationId: string }, { rounds: RoundMsg[] }>('ListRounds', (req) => {
      federations.get(req.federationId);
      return { rounds: rounds.listRounds(req.federationId).map((r) => roundMessage(r)) };
    }),
    ListModels: admin<{ federationId: string }, { models: ModelVersionMsg[] }>('ListModels', (req) => {
      federations.get(req.federationId);
      return { models: registry.list(req.federationId).map(modelMessage) };
    }),
    ListFederations: admin<Record<string, never>, { federations: FederationMsg[] }>('ListFederations', () => ({
      federations: federations.list().map((f) => federationMessage(deps, f)),
    })),
    ListSites: admin<{ federationId: string }, ListSitesResponseMsg>('ListSites', (req) => siteReport(deps.store, ledgerReport(deps, req.federationId), (id) => rounds.scheduler.lastSeenAt(id))),
    DownloadModel: serverStream<DownloadModelRequestMsg, ModelStreamMsg>(deps, 'AdminDownloadModel', 'admin', (caller, call) => streamModel(deps, caller, call), limiter),
    WatchFederation: serverStream<{ federationId: string }, { round?: RoundMsg; federation?: FederationMsg }>(deps, 'WatchFederation', 'admin', async (_caller, call) => {
      const federationId = call.request.federationId;
      federations.get(federationId);
      const onRound = (round: RoundRecord) => {
        if (round.federationId === federationId) call.write({ round: roundMessage(round) });
      };
      const onFederation = (id: string) => {
        if (id !== federationId) return;
        const federation = federations.get(id);
        call.write({ federation: federationMessage(deps, federation) });
        if (federation.status === 'finished') finish();
      };
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        rounds.off('round', onRound);
        rounds.off('federation', onFederation);
        call.end();
      };
      rounds.on('round', onRound);
      rounds.on('federation', onFederation);
      call.on('cancelled', finish);
      call.write({ federation: federationMessage(deps, federations.get(federationId)) });
      for (const round of rounds.listRounds(federationId)) call.write({ round: roundMessage(round) });
      if (federations.get(federationId).status === 'finished') finish();
    }, limiter),
  };
}

function federationMessage(deps: ServiceDeps, federation: FederationRecord): FederationMsg {
  return {
    id: federation.id, config: configMessage(federation.config), status: federation.status,
    latestModelVersion: deps.registry.latestVersion(federation.id) ?? 0,
    committedRounds: deps.rounds.committedRounds(federation.id), createdUnixMs: federation.createdMs,
    finishReason: federation.finishReason ?? '',
  };
}

/** ε per federation and per participant, recomputed from the ledger entries alone. */
export function ledgerReport(deps: Pick<ServiceDeps, 'federations' | 'ledger' | 'jwksJson' | 'store'>, federationId: string): GetLedgerResponseMsg {
  const federation = deps.federations.get(federationId);
  const privacy = federation.config.privacy;
  const delta = privacy?.delta ?? 1e-5;
  const entries = deps.ledger.entries(federationId);
  const payloads = entries.map((e) => JSON.parse(e.payload) as import('./privacy/ledger.ts').LedgerPayload);
  const report = (events: import('./privacy/ledger.ts').LedgerEvent[], budget: number | null): EpsilonReportMsg => {
    const eps = deps.ledger.epsilon(events, delta);
    return { epsilon: eps.epsilon, accountant: eps.accountant, rdpEpsilon: eps.rdp, pldEpsilon: eps.pld ?? -1, budgetEpsilon: budget ?? 0 };
  };
  const names = siteNames(deps.store, federationId);
  const siteRows = deps.store.db.prepare('SELECT id, budget_epsilon, sample_rate FROM sites WHERE federation_id = ? ORDER BY enrolled_ms').all(federationId) as
    Array<{ id: string; budget_epsilon: number | null; sample_rate: number | null }>;
  return {
    federationId, delta,
    federation: report(PrivacyLedger.federationEvents(payloads), privacy?.budgetEpsilon ?? null),
    participants: siteRows.map((site) => {
      const events = PrivacyLedger.participantEvents(payloads, site.id);
      return {
        siteId: site.id, siteName: names.get(site.id) ?? '', epsilon: report(events, site.budget_epsilon ?? privacy?.budgetEpsilon ?? null),
        roundsEligible: events.length, sampleRate: site.sample_rate ?? privacy?.sampleRate ?? 0,
      };
    }),
    entries: entries.map((e) => ({ seq: e.seq, payloadJson: e.payload, hash: e.hash, jws: e.jws })),
    jwksJson: deps.jwksJson,
  };
}

/** With the registry, a committed round carries its sites' evaluation of its base model (stored with that version), if any. */
export function roundMessage(round: RoundRecord, registry?: ModelRegistry): RoundMsg {
  return roundMessageWith(round, null, registry);
}

/** With the progress of the round in progress, when `progress` is this round's. */
function roundMessageWith(round: RoundRecord, progress: RoundProgress | null, registry?: ModelRegistry): RoundMsg {
  const live = progress?.roundId === round.id && (round.state === 'open' || round.state === 'collecting') ? progress : null;
  return {
    stageDeadlineUnixMs: live?.stageDeadlineMs ?? 0, stageExpected: live?.expected ?? 0, stageAnswered: live?.answered ?? 0, bytesReceived: live?.bytesReceived ?? 0,
    id: round.id, federationId: round.federationId, number: round.number, state: round.state, baseVersion: round.baseVersion,
    resultVersion: round.resultVersion ?? 0, selectedSites: round.selectedSites, submittedSites: round.submittedSites,
    abortReason: round.abortReason ?? '', openedUnixMs: round.openedMs, closedUnixMs: round.closedMs ?? 0, totalExamples: round.totalExamples,
    stage: round.stage ?? '',
    federatedEvaluation: registry && round.state === 'committed' ? evaluationFromMetrics(round.baseVersion, registry.get(round.federationId, round.baseVersion).metrics) : null,
    clippedUpdates: round.bounds?.clipped ?? 0, cappedWeights: round.bounds?.capped ?? 0, refusedUpdates: round.bounds?.refused ?? 0,
  };
}

function modelMessage(model: ModelVersionRecord): ModelVersionMsg {
  return {
    federationId: model.federationId, version: model.version, parentVersion: model.parentVersion ?? 0, roundId: model.roundId ?? '',
    sha256: model.sha256, numParameters: model.numParameters, createdUnixMs: model.createdMs, metricsJson: JSON.stringify(model.metrics),
  };
}
