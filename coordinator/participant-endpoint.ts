/**
 * The participant service without its transport: what a site asks (its next task) and what it
 * sends (one stage message: header, then tensor chunks), against the round pipeline. gRPC calls
 * these after authenticating (services.ts); tests call them directly as an in-memory transport.
 */
import {
  ConclaveError, TensorAssembler, chunksOf,
  type GetTaskResponseMsg, type ResumeStageRequestMsg, type ResumeStageResponseMsg, type RoundPlanMsg, type StageHeaderMsg, type StageStreamMsg, type StageTensorMsg, type SubmitStageResponseMsg, type TypedTensor,
} from '../protocols/index.ts';
import type { Federations, FederationRecord } from './federations.ts';
import type { ModelRegistry } from './model-registry.ts';
import type { RoundManager, RoundRecord, SiteTask } from './rounds.ts';
import { DEFAULT_STREAM_LIMITS, quote, type StreamLimits } from './limits.ts';
import { evaluationDue } from './evaluation/federated-evaluation.ts';
import { compressionPlan } from './protection/none.ts';
import { ParkedUploads } from './transfer-resume.ts';
import { dataSpecMessage } from './data-spec.ts';

const MAX_TASK_WAIT_MS = 10_000;
/** Stage and round ids are short; anything longer is refused before it is echoed or logged. */
const MAX_ID_LENGTH = 128;

export interface SiteCaller {
  siteId: string;
  federationId: string;
}

export class ParticipantEndpoint {
  private readonly federations: Federations;
  private readonly registry: ModelRegistry;
  private readonly rounds: RoundManager;
  private readonly streamLimits: StreamLimits;
  /** Each site's upload in progress: a retry supersedes a stalled one instead of being told "already submitted". */
  private readonly uploads = new Map<string, { abort: (err: Error) => void; done: Promise<unknown> }>();
  /** Cut uploads a retry may continue (ResumeStage, resume_from_chunk). */
  private readonly parked: ParkedUploads;

  constructor(deps: { federations: Federations; registry: ModelRegistry; rounds: RoundManager; streamLimits?: StreamLimits }) {
    this.federations = deps.federations;
    this.registry = deps.registry;
    this.rounds = deps.rounds;
    this.streamLimits = deps.streamLimits ?? DEFAULT_STREAM_LIMITS;
    // A cut upload may be resumed for as long as an upload may last, and never after its round.
    this.parked = new ParkedUploads(this.streamLimits.overallMs);
    this.rounds.on('round', (record: RoundRecord) => {
      if (record.state !== 'collecting') this.parked.dropRound(record.id);
    });
  }

  /**
   * How many chunks of a cut upload the coordinator kept. An upload of this site still streaming
   * (a connection that died without a reset) is cut first, so what it got so far counts.
   */
  async resumeStage(caller: SiteCaller, request: ResumeStageRequestMsg): Promise<ResumeStageResponseMsg> {
    if (!request.roundId || request.roundId.length > MAX_ID_LENGTH || !request.stage || request.stage.length > MAX_ID_LENGTH) {
      throw new ConclaveError('INVALID_ARGUMENT', `ResumeStage needs a roundId and a stage of at most ${MAX_ID_LENGTH} characters`);
    }
    if (!request.tensorSha256 || request.tensorSha256.length !== 32) throw new ConclaveError('INVALID_ARGUMENT', 'ResumeStage needs the 32-byte tensor_sha256 of the cut upload');
    const previous = this.uploads.get(caller.siteId);
    if (previous) {
      previous.abort(new ConclaveError('UNAVAILABLE', 'superseded: the site is resuming this upload'));
      await previous.done.catch(() => undefined);
    }
    return { nextChunk: this.parked.nextChunk(caller.siteId, request.roundId, request.stage, request.tensorSha256) };
  }

  /** A stage task's tensor as a stream: its header, then ~1 MiB chunks (zero-copy views). */
  *stageTensor(caller: SiteCaller, roundId: string, stage: string): Generator<StageTensorMsg> {
    if (typeof roundId !== 'string' || !roundId || roundId.length > MAX_ID_LENGTH || typeof stage !== 'string' || !stage || stage.length > MAX_ID_LENGTH) {
      throw new ConclaveError('INVALID_ARGUMENT', `a stage tensor request names a round and a stage of at most ${MAX_ID_LENGTH} characters`);
    }
    const { header, values } = this.rounds.stageTensor(caller.federationId, caller.siteId, roundId, stage);
    yield { part: 'header', header };
    for (const chunk of chunksOf(values)) yield { part: 'chunk', chunk };
  }

  /** Long-polls up to waitMs for the site's next task: a round plan, a later stage's task, wait, or finished. */
  async getTask(caller: SiteCaller, waitMs: number, cancelled: () => boolean = () => false): Promise<GetTaskResponseMsg> {
    const deadline = Date.now() + Math.min(Math.max(0, waitMs || 0), MAX_TASK_WAIT_MS);
    for (;;) {
      this.rounds.markSeen(caller.siteId);
      const federation = this.federations.status(caller.federationId);
      if (federation.status === 'finished') {
        return { task: 'finished', finished: { reason: federation.finishReason ?? 'federation finished', finalModelVersion: this.registry.latestVersion(caller.federationId) ?? 0 } };
      }
      const task = this.rounds.taskFor(caller.federationId, caller.siteId);
      if (task?.kind === 'plan') return { task: 'round', round: this.planFor(federation, task, caller.siteId) };
      if (task?.kind === 'stage') {
        return {
          task: 'stage',
          stage: { roundId: task.round.id, roundNumber: task.round.number, stage: task.stage, deadlineUnixMs: task.deadlineMs, ...task.task, tensor: task.tensor },
        };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || cancelled()) {
        return { task: 'wait', wait: { retryAfterMs: 250, reason: federation.status === 'created' ? 'federation not started' : 'no task for this site in the current round' } };
      }
      await waitForRoundEvent(this.rounds, caller.federationId, Math.min(remaining, 1000));
    }
  }

  /**
   * One stage message: the header is checked against the round and the stage (which bounds the
   * tensor) before any chunk is buffered; chunks are checked for order, size, finiteness and the
   * digest; the complete message goes to the stage.
   */
  async submitStage(caller: SiteCaller, messages: AsyncIterable<StageStreamMsg>): Promise<SubmitStageResponseMsg> {
    const previous = this.uploads.get(caller.siteId);
    if (previous) {
      previous.abort(new ConclaveError('ROUND_CLOSED', 'superseded by a newer upload from the same site'));
      await previous.done.catch(() => undefined);
    }
    const guarded = guardStream(messages, this.streamLimits);
    const done = this.receive(caller, guarded.messages);
    const entry = { abort: guarded.abort, done };
    this.uploads.set(caller.siteId, entry);
    try {
      return await done;
    } finally {
      guarded.close();
      if (this.uploads.get(caller.siteId) === entry) this.uploads.delete(caller.siteId);
    }
  }

  private async receive(caller: SiteCaller, messages: AsyncIterable<StageStreamMsg>): Promise<SubmitStageResponseMsg> {
    let header: StageHeaderMsg | null = null;
    let assembler: TensorAssembler<TypedTensor> | null = null;
    let release: (() => void) | null = null;
    let unwatch: (() => void) | null = null;
    // Set while a message is checked: a throw then is a refusal, not a cut, and leaves nothing to resume.
    let checking = false;
    let roundEnded = false;
    try {
      for await (const msg of messages) {
        checking = true;
        if (msg.part === 'header') {
          if (header) throw new ConclaveError('MALFORMED_STREAM', 'the stage stream carries a second header');
          header = msg.header;
          if (!header.roundId || header.roundId.length > MAX_ID_LENGTH) throw new ConclaveError('INVALID_ARGUMENT', `a stage message needs a roundId of at most ${MAX_ID_LENGTH} characters`);
          if (!header.stage || header.stage.length > MAX_ID_LENGTH) throw new ConclaveError('INVALID_ARGUMENT', `a stage message needs a stage name of at most ${MAX_ID_LENGTH} characters`);
          const slot = this.rounds.beginMessage(caller.federationId, caller.siteId, header);
          // A stalled upload must not outlive its round: it is cut when the round closes.
          unwatch = watchRound(this.rounds, header.roundId, () => {
            roundEnded = true;
            this.uploads.get(caller.siteId)?.abort(new ConclaveError('ROUND_CLOSED', 'the round closed before the upload finished'));
          });
          release = slot.release;
          if ((header.resumeFromChunk ?? 0) > 0) {
            // Checked against the cut upload's header, which was checked against this same round and stage.
            if (!slot.expect) throw new ConclaveError('RESUME_MISMATCH', `stage "${quote(header.stage)}" carries no tensor, so nothing to resume`);
            assembler = this.parked.resume(caller.siteId, header);
          } else if (slot.expect) {
            this.parked.drop(caller.siteId);
            if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', `stage "${quote(header.stage)}" needs a tensor header`);
            assembler = new TensorAssembler<TypedTensor>(
              { layout: header.tensor.layout, totalElements: header.tensor.totalElements, sha256: header.tensor.sha256, chunkCount: header.tensor.chunkCount },
              {
                expectedDtype: slot.expect.dtype, maxElements: slot.expect.maxElements, rejectNonFinite: true, offThread: true, digestInTrailer: true,
                pooled: slot.expect.reusable === true,
                ...(slot.expect.layout ? { expectedLayout: slot.expect.layout } : {}),
              },
            );
          }
        } else if (msg.part === 'chunk') {
          if (!header) throw new ConclaveError('MALFORMED_STREAM', 'the stage stream must start with a header');
          if (!assembler) throw new ConclaveError('MALFORMED_STREAM', 'this stage message carries no tensor, so no chunks');
          assembler.push(msg.chunk);
        } else {
          throw new ConclaveError('MALFORMED_STREAM', 'empty message in stage stream');
        }
        checking = false;
      }
      if (!header) throw new ConclaveError('MALFORMED_STREAM', 'the stage stream ended without a header');
      // A refusal here (digest, a non-finite value the verifier thread found) is not a cut either.
      // A stream that ends short is: grpc-js may end a call cut by a lost connection without an
      // error, so what arrived is kept for the retry (finished() refuses it as incomplete).
      checking = assembler?.complete ?? true;
      const tensor = assembler ? await assembler.finished() : null;
      checking = false;
      // A digest that came in the last chunk is the message's digest from here on.
      const complete = header.tensor && assembler && header.tensor.sha256.length === 0
        ? { ...header, tensor: { ...header.tensor, sha256: Buffer.from(assembler.header.sha256) } } : header;
      const { received } = await this.rounds.acceptMessage(caller.federationId, caller.siteId, complete, tensor, complete.tensor ? Buffer.from(complete.tensor.sha256) : null);
      release = null;
      // Taken in, nothing keeps a reusable tensor (TensorExpectation.reusable): its buffer serves the next upload.
      assembler?.recycle();
      return { roundId: header.roundId, stage: header.stage, received };
    } catch (err) {
      // The stream was cut (connection lost, idle, superseded) after its header passed: keep what
      // arrived, so the site's retry sends only the rest.
      if (!checking && !roundEnded && header && assembler) this.parked.park(caller.siteId, header, assembler);
      else assembler?.recycle();
      throw err;
    } finally {
      release?.();
      unwatch?.();
    }
  }

  private planFor(federation: Pick<FederationRecord, 'id' | 'config'>, task: Extract<SiteTask, { kind: 'plan' }>, siteId: string): RoundPlanMsg {
    const { round } = task;
    const base = this.registry.get(federation.id, round.baseVersion);
    const privacy = round.privacy;
    return {
      federationId: federation.id, roundId: round.id, roundNumber: round.number, modelVersion: round.baseVersion,
      modelSha256: base.sha256, training: federation.config.training, deadlineUnixMs: round.deadlineMs,
      protection: task.protection.protocol, protectionPlan: task.protection, seed: this.rounds.siteSeed(round, siteId),
      data: dataSpecMessage(federation.config.data),
      dp: privacy ? {
        mode: privacy.mode, clipNorm: privacy.clipNorm, siteNoiseStd: privacy.siteNoiseStd, reportUnclipped: privacy.adaptiveClip !== null,
        // What the ledger charges this site for the round, so the site can hold it to its own floor.
        noiseMultiplier: privacy.chargedNoiseMultiplier,
        sampleRate: privacy.mode === 'central' ? privacy.sampling.find((s) => s.siteId === siteId)?.sampleRate ?? 1 : 1,
        delta: privacy.delta,
        // Distributed DP: the round's discrete Gaussian (set when the round opened); 0 otherwise.
        granularity: privacy.distributed?.ddg?.granularity ?? 0, beta: privacy.distributed?.ddg?.beta ?? 0,
        chargedClients: privacy.distributed?.ddg?.chargedClients ?? 0,
      } : null,
      evaluate: evaluationDue(federation.config, round.baseVersion, privacy !== null),
      compression: compressionPlan(federation.config.compression),
    };
  }
}

/** Resolves when a round of this federation opens, changes stage or closes, the federation ends, or after timeoutMs. */
function waitForRoundEvent(emitter: RoundManager, federationId: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off('tasks', onTasks);
      emitter.off('federation', done);
      resolve();
    };
    const onTasks = (id: string) => {
      if (id === federationId) done();
    };
    const timer = setTimeout(done, timeoutMs);
    emitter.on('tasks', onTasks);
    emitter.on('federation', done);
  });
}

/**
 * The stream as the endpoint reads it, with an idle and an overall deadline and a way to cut it
 * from outside (a retry superseding it, its round closing). A cut stream throws from its next read.
 */
function guardStream(source: AsyncIterable<StageStreamMsg>, limits: StreamLimits) {
  let fail: ((err: Error) => void) | null = null;
  let failed: Error | null = null;
  const abort = (err: Error) => {
    failed ??= err;
    fail?.(err);
  };
  const overall = setTimeout(() => abort(new ConclaveError('UNAVAILABLE', `stage streams may last at most ${limits.overallMs} ms`)), limits.overallMs);
  let idle: NodeJS.Timeout | null = null;
  const iterator = source[Symbol.asyncIterator]();
  async function* messages(): AsyncGenerator<StageStreamMsg> {
    for (;;) {
      if (failed) throw failed;
      const cut = new Promise<never>((_, reject) => { fail = reject; });
      idle = setTimeout(() => abort(new ConclaveError('UNAVAILABLE', `the stage stream sent nothing for ${limits.idleMs} ms; retry the upload`)), limits.idleMs);
      let next: IteratorResult<StageStreamMsg>;
      try {
        next = await Promise.race([iterator.next(), cut]);
      } finally {
        clearTimeout(idle);
        fail = null;
      }
      if (next.done) return;
      yield next.value;
    }
  }
  return {
    messages: messages(),
    abort,
    close() {
      clearTimeout(overall);
      if (idle) clearTimeout(idle);
      // Stops reading a client that is still sending (grpc-js then cancels the call).
      void iterator.return?.().catch(() => undefined);
    },
  };
}

/**
 * Calls `onClosed` once the round's record says it is no longer collecting. Every round event
 * carries its record, so an event costs each open upload a comparison, not a store read.
 */
function watchRound(rounds: RoundManager, roundId: string, onClosed: () => void): () => void {
  const check = (record: RoundRecord) => {
    if (record.id !== roundId || record.state === 'collecting') return;
    rounds.off('round', check);
    onClosed();
  };
  rounds.on('round', check);
  return () => rounds.off('round', check);
}
