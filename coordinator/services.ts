import { once } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import {
  ConclaveError, TensorAssembler, chunkCount, chunksOf, toServiceError,
  type DownloadModelRequestMsg, type FederationConfigMsg, type FederationMsg, type GetTaskResponseMsg, type ModelStreamMsg,
  type ModelVersionMsg, type RoundMsg, type SubmitUpdateResponseMsg, type UpdateHeaderMsg, type UpdateStreamMsg,
} from '../protocols/index.ts';
import type { Authenticator, Caller } from './auth.ts';
import { siteNames, type Federations, type FederationRecord } from './federations.ts';
import { PrivacyLedger } from './privacy/ledger.ts';
import type { ModelRegistry, ModelVersionRecord } from './model-registry.ts';
import type { RoundManager, RoundRecord } from './rounds.ts';
import { configFromMessage, configMessage } from './federation-config.ts';
import type { EpsilonReportMsg, GetLedgerResponseMsg } from '../protocols/index.ts';
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
}

const MAX_TASK_WAIT_MS = 10_000;
/** A single site claiming more than this many examples is refusing to be averaged honestly. */
const MAX_EXAMPLES_PER_UPDATE = 1_000_000_000;

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
  if (err instanceof ConclaveError) log.warn('rpc refused', { rpc, code: err.code, reason: err.message });
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
  const values = deps.registry.readWeights(record);
  // readWeights just verified the bytes against the recorded digest: no need to hash them again.
  const header = { layout: record.layout, totalElements: values.length, sha256: record.sha256, chunkCount: chunkCount(values.length) };
  call.write({ part: 'header', header: { federationId, version, topologyJson: federation.topologyJson, tensor: header } });
  for (const chunk of chunksOf(values)) {
    if (call.cancelled) return;
    // Respect HTTP/2 flow control: never queue the whole model in memory for a slow reader.
    if (!call.write({ part: 'chunk', chunk })) await once(call, 'drain');
  }
  call.end();
}

function serverStream<Req, Res>(deps: ServiceDeps, name: string, role: 'site' | 'admin',
  fn: (caller: Caller, call: grpc.ServerWritableStream<Req, Res>) => Promise<void>) {
  return (call: grpc.ServerWritableStream<Req, Res>) => {
    deps.auth.authenticate(call.metadata, role).then((caller) => fn(caller, call)).catch((err: unknown) => {
      logFailure(deps.log, name, err);
      // grpc-js turns an 'error' event on a server stream into the call's status; destroy() would leave the client hanging.
      call.emit('error', toServiceError(err));
    });
  };
}

export function participantHandlers(deps: ServiceDeps): grpc.UntypedServiceImplementation {
  const { auth, federations, rounds, log } = deps;
  return {
    GetTask: unary<{ waitMs: number }, GetTaskResponseMsg>(log, 'GetTask', async (call): Promise<GetTaskResponseMsg> => {
      const caller = await auth.authenticate(call.metadata, 'site');
      const federationId = caller.federationId!;
      const deadline = Date.now() + Math.min(Math.max(0, call.request.waitMs || 0), MAX_TASK_WAIT_MS);
      for (;;) {
        rounds.markSeen(caller.subject);
        const federation = federations.get(federationId);
        if (federation.status === 'finished') {
          return { task: 'finished', finished: { reason: 'federation finished all its rounds', finalModelVersion: deps.registry.latestVersion(federationId) ?? 0 } };
        }
        const round = rounds.pendingRoundFor(federationId, caller.subject);
        if (round) return { task: 'round', round: planFor(deps, federation, round, caller.subject) };
        const remaining = deadline - Date.now();
        if (remaining <= 0 || call.cancelled) {
          return { task: 'wait', wait: { retryAfterMs: 250, reason: federation.status === 'created' ? 'federation not started' : 'not selected for the current round' } };
        }
        await waitForEvent(rounds, Math.min(remaining, 1000));
      }
    }),

    DownloadModel: serverStream<DownloadModelRequestMsg, ModelStreamMsg>(deps, 'DownloadModel', 'site', (caller, call) => streamModel(deps, caller, call)),

    SubmitUpdate: (call: grpc.ServerReadableStream<UpdateStreamMsg, SubmitUpdateResponseMsg>, callback: grpc.sendUnaryData<SubmitUpdateResponseMsg>) =>
      respond(log, 'SubmitUpdate', receiveUpdate(deps, call), callback),
  };
}

/** collect stage: authenticate, reserve the site's slot, verify the streamed tensor, hand it to the round. */
async function receiveUpdate(deps: ServiceDeps, call: grpc.ServerReadableStream<UpdateStreamMsg, SubmitUpdateResponseMsg>): Promise<SubmitUpdateResponseMsg> {
  const caller = await deps.auth.authenticate(call.metadata, 'site');
  const federationId = caller.federationId!;
  let header: UpdateHeaderMsg | null = null;
  let assembler: TensorAssembler | null = null;
  let release: (() => void) | null = null;
  try {
    for await (const msg of call as AsyncIterable<UpdateStreamMsg>) {
      if (msg.part === 'header') {
        if (header) throw new ConclaveError('MALFORMED_STREAM', 'the update stream carries a second header');
        header = msg.header;
        validateUpdateHeader(header);
        const slot = deps.rounds.beginSubmission(federationId, caller.subject, header.roundId, header.numExamples);
        release = slot.release;
        assembler = new TensorAssembler(
          { layout: header.tensor.layout, totalElements: header.tensor.totalElements, sha256: header.tensor.sha256, chunkCount: header.tensor.chunkCount },
          { expectedLayout: slot.layout, rejectNonFinite: true },
        );
      } else if (msg.part === 'chunk') {
        if (!assembler) throw new ConclaveError('MALFORMED_STREAM', 'the update stream must start with a header');
        assembler.push(msg.chunk);
      } else {
        throw new ConclaveError('MALFORMED_STREAM', 'empty message in update stream');
      }
    }
    if (!header || !assembler) throw new ConclaveError('MALFORMED_STREAM', 'the update stream ended without a header');
    const values = assembler.finish();
    const { received } = deps.rounds.acceptUpdate(federationId, header.roundId, {
      siteId: caller.subject, numExamples: header.numExamples, values, sha256: Buffer.from(header.tensor.sha256),
      trainLoss: header.trainLoss, trainAccuracy: header.trainAccuracy, unclipped: header.unclipped === true,
    });
    release = null;
    return { roundId: header.roundId, receivedUpdates: received };
  } finally {
    release?.();
  }
}

function validateUpdateHeader(header: UpdateHeaderMsg): void {
  if (!header.roundId) throw new ConclaveError('INVALID_ARGUMENT', 'update header needs a roundId');
  // 0 means withheld, which only DP rounds accept (beginSubmission checks): they weight sites uniformly.
  if (!Number.isInteger(header.numExamples) || header.numExamples < 0 || header.numExamples > MAX_EXAMPLES_PER_UPDATE) {
    throw new ConclaveError('INVALID_ARGUMENT', `numExamples must be an integer in [1, ${MAX_EXAMPLES_PER_UPDATE}] (0 = withheld, DP rounds only)`);
  }
  if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'update header has no tensor header');
  if (!Number.isFinite(header.trainLoss) || !Number.isFinite(header.trainAccuracy)) {
    throw new ConclaveError('NON_FINITE_VALUE', 'training metrics must be finite numbers');
  }
}

function planFor(deps: ServiceDeps, federation: FederationRecord, round: RoundRecord, siteId: string) {
  const base = deps.registry.get(federation.id, round.baseVersion);
  const privacy = round.privacy;
  return {
    federationId: federation.id, roundId: round.id, roundNumber: round.number, modelVersion: round.baseVersion,
    modelSha256: base.sha256, training: federation.config.training, deadlineUnixMs: round.deadlineMs,
    protection: federation.config.protection, seed: deps.rounds.siteSeed(round, siteId),
    dp: privacy ? {
      mode: privacy.mode, clipNorm: privacy.clipNorm, siteNoiseStd: privacy.siteNoiseStd, reportUnclipped: privacy.adaptiveClip !== null,
      // What the ledger charges this site for the round, so the site can hold it to its own floor.
      noiseMultiplier: privacy.chargedNoiseMultiplier,
      sampleRate: privacy.mode === 'central' ? privacy.sampling.find((s) => s.siteId === siteId)?.sampleRate ?? 1 : 1,
      delta: privacy.delta,
    } : null,
  };
}

function waitForEvent(emitter: RoundManager, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off('round', done);
      emitter.off('federation', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    emitter.on('round', done);
    emitter.on('federation', done);
  });
}

// --- admin ---------------------------------------------------------------------------------------

export function adminHandlers(deps: ServiceDeps): grpc.UntypedServiceImplementation {
  const { auth, federations, registry, rounds, log } = deps;
  const admin = <Req, Res>(name: string, fn: (req: Req) => Promise<Res> | Res): Unary<Req, Res> =>
    unary<Req, Res>(log, name, async (call) => {
      await auth.authenticate(call.metadata, 'admin');
      return fn(call.request);
    });
  return {
    CreateFederation: admin<{ config: FederationConfigMsg | null }, FederationMsg>('CreateFederation', async (req) => {
      const created = await federations.create(configFromMessage(req.config));
      log.info('federation created', { federation: created.id, name: created.name, model: created.config.model });
      return federationMessage(deps, created);
    }),
    GetFederation: admin<{ federationId: string }, FederationMsg>('GetFederation', (req) => federationMessage(deps, federations.get(req.federationId))),
    StartFederation: admin<{ federationId: string }, FederationMsg>('StartFederation', (req) => {
      federations.get(req.federationId);
      rounds.assertBudgetRemains(req.federationId);
      return federationMessage(deps, federations.start(req.federationId));
    }),
    EnrollSite: admin<{ federationId: string; siteName: string; tokenTtlS: number; budgetEpsilon: number; sampleRate: number }, { siteId: string; token: string }>('EnrollSite',
      (req) => federations.enrollSite(req.federationId, req.siteName, req.tokenTtlS, {
        // proto3 has no "unset" for doubles: 0 means "use the federation's".
        budgetEpsilon: req.budgetEpsilon === 0 ? null : req.budgetEpsilon,
        sampleRate: req.sampleRate === 0 ? null : req.sampleRate,
      })),
    GetLedger: admin<{ federationId: string }, GetLedgerResponseMsg>('GetLedger', (req) => ledgerReport(deps, req.federationId)),
    RevokeSite: admin<{ federationId: string; siteId: string }, { revoked: boolean }>('RevokeSite', (req) => {
      const revoked = federations.revokeSite(req.federationId, req.siteId);
      log.info('site revoked', { federation: req.federationId, site: req.siteId });
      return { revoked };
    }),
    ListRounds: admin<{ federationId: string }, { rounds: RoundMsg[] }>('ListRounds', (req) => {
      federations.get(req.federationId);
      return { rounds: rounds.listRounds(req.federationId).map(roundMessage) };
    }),
    ListModels: admin<{ federationId: string }, { models: ModelVersionMsg[] }>('ListModels', (req) => {
      federations.get(req.federationId);
      return { models: registry.list(req.federationId).map(modelMessage) };
    }),
    DownloadModel: serverStream<DownloadModelRequestMsg, ModelStreamMsg>(deps, 'AdminDownloadModel', 'admin', (caller, call) => streamModel(deps, caller, call)),
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
    }),
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
  const report = (events: import('../crypto/dp/index.ts').GaussianEvent[], budget: number | null): EpsilonReportMsg => {
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

export function roundMessage(round: RoundRecord): RoundMsg {
  return {
    id: round.id, federationId: round.federationId, number: round.number, state: round.state, baseVersion: round.baseVersion,
    resultVersion: round.resultVersion ?? 0, selectedSites: round.selectedSites, submittedSites: round.submittedSites,
    abortReason: round.abortReason ?? '', openedUnixMs: round.openedMs, closedUnixMs: round.closedMs ?? 0, totalExamples: round.totalExamples,
  };
}

function modelMessage(model: ModelVersionRecord): ModelVersionMsg {
  return {
    federationId: model.federationId, version: model.version, parentVersion: model.parentVersion ?? 0, roundId: model.roundId ?? '',
    sha256: model.sha256, numParameters: model.numParameters, createdUnixMs: model.createdMs, metricsJson: JSON.stringify(model.metrics),
  };
}
