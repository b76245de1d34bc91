/**
 * The seam every protection protocol plugs into. A round is an ordered list of stages over one
 * state object the protocol owns (Flower's SecAggPlusWorkflow, typed): the pipeline in rounds.ts
 * knows nothing of masks or ciphertexts, only that each stage hands tasks to live sites, takes
 * their messages (bounded before anything is buffered), ends when complete or at its deadline,
 * and passes its survivors on. Unprotected contributions reach the round's aggregation one update
 * at a time or as one sum.
 */
import type { Dtype, OpaqueBodyMsg, ProtectionPlanMsg, SecAggTaskMsg, StageHeaderMsg, TensorSpec, TypedTensor } from '../../protocols/index.ts';
import type { RoundAggregation } from '../aggregation/aggregator.ts';
import type { BoundedUpdates } from '../round-store.ts';
import type { ProtectionConfig } from '../federation-config.ts';

/** The clear-text side of an update: what a round records per submitting site. */
export interface UpdateReport {
  numExamples: number;
  trainLoss: number;
  trainAccuracy: number;
}
import type { RoundPrivacy } from '../round-privacy.ts';

/** What the pipeline tells a protocol about the round it runs in. */
export interface StageRoundContext {
  federationId: string;
  roundId: string;
  roundNumber: number;
  /** The model's layout: what a plain update must match. */
  layout: TensorSpec[];
  /** The sites selected for the round (the live set of the first stage). */
  selected: readonly string[];
  /**
   * The fewest survivors a stage may end with and the round still go on. 0 under central DP, whose
   * rounds are released whatever the number of contributors (conditioning on it would raise the
   * inclusion probability above what the ledger charges).
   */
  minSurvivors: number;
  /** Under DP, weights are uniform and a withheld example count (0) is accepted. */
  dp: boolean;
  /** How plain updates are encoded (protocols/update-codec.ts); absent: float32. */
  compression?: { kind: 'none' } | { kind: 'q8' } | { kind: 'topk'; ratio: number };
  /** Whether the plan asked the sites to evaluate the round's base model (evaluation/federated-evaluation.ts). */
  evaluate?: boolean;
  /** The example counts sites declared at enrolment: a site's FedAvg weight is at most its own (issue 13). */
  weightCaps?: ReadonlyMap<string, number>;
  /** Where a protocol counts what its bounds did to the round's updates (reported with the round). */
  bounds?: BoundedUpdates;
  /** The federation's protection config, with the protocol's parameters (absent in tests that build a context by hand). */
  protection?: ProtectionConfig;
  /** The round's DP parameters (clip, the sites' noise), when it runs under DP. */
  privacy?: RoundPrivacy | null;
  /**
   * Pins a site's identity public key on first use and refuses a different one afterwards (the
   * coordinator's store); absent in tests that run a protocol without one.
   */
  pinIdentity?(siteId: string, publicKey: Uint8Array): void;
}

/** A stage message after the envelope checks: typed body, and the tensor it announced (digest verified). */
export interface StageMessage {
  siteId: string;
  header: StageHeaderMsg;
  tensor: TypedTensor | null;
}

/** What a stage allows a message to carry, decided from the header before any chunk is buffered. */
export interface TensorExpectation {
  dtype: Dtype;
  /** An exact layout (a model delta), or none. */
  layout?: TensorSpec[];
  /** Upper bound on elements when the layout is not pinned. */
  maxElements: number;
  /**
   * accept() reads the tensor and keeps none of it (a fold into a sum): once accept has returned or
   * thrown, the receiver may reuse the tensor's memory for the next upload of its size.
   */
  reusable?: boolean;
}

/** A later stage's task body for one site (the first stage's task is the round plan itself). */
export type StageTaskBody = { body: 'opaque'; opaque: OpaqueBodyMsg } | { body: 'secagg'; secagg: SecAggTaskMsg } | { body?: undefined };

export type StageOutcome = { survivors: string[] } | { abort: string };

export interface Stage<S> {
  readonly name: string;
  /** True when the stage has nothing to do this round (asked as the previous stage ends): its survivors go straight on. */
  skip?(state: S): boolean;
  /**
   * This stage's message carries the site's (protected) contribution to the aggregate: accepting
   * it records the site as a contributor of the round, as an update does under protection "none".
   */
  readonly contribution?: boolean;
  /** A later stage's task for a live site; the first stage's task is the round plan. */
  task?(state: S, siteId: string): StageTaskBody;
  /**
   * A tensor the task carries, of any size (an aggregate ciphertext): sites fetch it chunked with
   * DownloadStageTensor. Return the same object for the whole stage (its digest is computed once).
   */
  taskTensor?(state: S, siteId: string): { layout: TensorSpec[]; values: TypedTensor } | null;
  /**
   * Checks a header against this stage before its tensor is read: the body kind, the counts, the
   * tensor's dtype and size. Throws a ConclaveError to refuse; returns null for a message without
   * a tensor.
   */
  expect(state: S, ctx: StageRoundContext, siteId: string, header: StageHeaderMsg): TensorExpectation | null;
  /**
   * Takes in one complete message. Throws to refuse it (nothing of it is kept). A protocol whose
   * update travels in its own body returns the update's clear-text report, recorded as the site's
   * submission (protocol none's `update` body is recorded as it is). It may return a promise (the
   * message is worked on off the event loop's thread): the site's answer, or its refusal, is known
   * once it settles, and the stage does not end before it has.
   */
  accept(state: S, ctx: StageRoundContext, message: StageMessage): void | UpdateReport | Promise<void | UpdateReport>;
  /**
   * Awaited once the stage is over, after every accept() in flight settled and before finish():
   * where work handed off the thread is gathered back (partial sums merged). Throwing aborts the round.
   */
  settle?(state: S, ctx: StageRoundContext): Promise<void>;
  /**
   * Which sites move on once the stage is over (every live site answered, or the deadline passed):
   * the others are this stage's dropouts. An abort ends the round with that reason.
   */
  finish(state: S, ctx: StageRoundContext, answered: readonly string[], live: readonly string[]): StageOutcome;
}

export interface ProtectionProtocol<S = unknown> {
  readonly name: string;
  readonly stages: ReadonlyArray<Stage<S>>;
  /** Awaited before begin() at each round's set-up: loads what the protocol needs (a WebAssembly runtime). */
  prepare?(): Promise<void>;
  /** A site of the federation was revoked (whether or not a round is running): drop what it was trusted with. */
  siteRevoked?(federationId: string, siteId: string): void;
  /** The typed protection plan each selected site receives in its round plan. */
  plan(ctx: StageRoundContext): ProtectionPlanMsg;
  /**
   * The round's state. `aggregation` is where unprotected contributions go: a protocol that sees
   * plain updates folds each as it arrives (O(model) memory); one that works in a protected domain
   * hands over the unprotected sum in unprotect().
   */
  begin(ctx: StageRoundContext, aggregation: RoundAggregation): S;
  /** After the last stage's survivors are known: whatever is still protected is unprotected into the aggregation. */
  unprotect(state: S, ctx: StageRoundContext, survivors: readonly string[]): void | Promise<void>;
  /** Forgets whatever the round held (called however the round ends). */
  dispose?(state: S): void;
  /** The coordinator stops: end the threads the protocol started, if no round still uses them. */
  close?(): Promise<void>;
  /** The deadline of each stage after the first (default: the round deadline, which also covers training). */
  laterStageDeadlineMs?(ctx: StageRoundContext): number | undefined;
}

/** Protocols by name; the federation config names one, tests may register more. */
export type ProtocolRegistry = ReadonlyMap<string, ProtectionProtocol<never>>;
