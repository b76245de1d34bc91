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
import type { ProtectionConfig } from '../federation-config.ts';
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
  /** The federation's protection config: the parameters of the protocol it names. */
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
}

/** A later stage's task body for one site (the first stage's task is the round plan itself). */
export type StageTaskBody = { body: 'opaque'; opaque: OpaqueBodyMsg } | { body: 'secagg'; secagg: SecAggTaskMsg } | { body?: undefined };

export type StageOutcome = { survivors: string[] } | { abort: string };

export interface Stage<S> {
  readonly name: string;
  /**
   * This stage's message carries the site's (protected) contribution to the aggregate: accepting
   * it records the site as a contributor of the round, as an update does under protection "none".
   */
  readonly contribution?: boolean;
  /** A later stage's task for a live site; the first stage's task is the round plan. */
  task?(state: S, siteId: string): StageTaskBody;
  /**
   * Checks a header against this stage before its tensor is read: the body kind, the counts, the
   * tensor's dtype and size. Throws a ConclaveError to refuse; returns null for a message without
   * a tensor.
   */
  expect(state: S, ctx: StageRoundContext, siteId: string, header: StageHeaderMsg): TensorExpectation | null;
  /** Takes in one complete message. Throws to refuse it (nothing of it is kept). */
  accept(state: S, ctx: StageRoundContext, message: StageMessage): void;
  /**
   * Which sites move on once the stage is over (every live site answered, or the deadline passed):
   * the others are this stage's dropouts. An abort ends the round with that reason.
   */
  finish(state: S, ctx: StageRoundContext, answered: readonly string[], live: readonly string[]): StageOutcome;
}

export interface ProtectionProtocol<S = unknown> {
  readonly name: string;
  readonly stages: ReadonlyArray<Stage<S>>;
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
  /** The deadline of each stage after the first (default: the round deadline, which also covers training). */
  laterStageDeadlineMs?(ctx: StageRoundContext): number | undefined;
}

/** Protocols by name; the federation config names one, tests may register more. */
export type ProtocolRegistry = ReadonlyMap<string, ProtectionProtocol<never>>;
