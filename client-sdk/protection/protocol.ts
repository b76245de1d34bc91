/**
 * The site half of a protection protocol: what the site sends for the round's first stage (after
 * training and privatizing) and for each later stage's task. A round's context, with any secrets
 * a protocol keeps between stages, lives in the Participant's memory only, never on disk or in logs.
 */
import type { RoundPlanMsg, StageTaskMsg, TensorSpec, TypedTensor } from '../../protocols/index.ts';
import type { StageSubmission } from '../connection.ts';
import type { UpdateCompressor } from '../compression.ts';
import type { SiteIdentity } from '../../crypto/site-identity.ts';

export interface SiteRoundContext {
  plan: RoundPlanMsg;
  layout: TensorSpec[];
  /** Per-round state a protocol keeps between its stages (keys, seeds, shares): memory only. */
  secrets: Map<string, unknown>;
  /** Encodes a plain update as the plan's compression asks, with the site's top-k residual (protection "none"). */
  compressor?: UpdateCompressor;
  /** The site's long-term identity key: it signs what the site advertises (secagg). */
  identity?: SiteIdentity;
  /**
   * Neighbours' identity keys by site id, as first seen (or given by the operator); kept across
   * rounds, so a coordinator that swaps a known neighbour's identity key is caught.
   */
  peerIdentities?: Map<string, Uint8Array>;
}

/** What leaves the site after training, subject to the plan (withheld metrics are 0). */
export interface SiteContribution {
  delta: Float32Array;
  numExamples: number;
  trainLoss: number;
  trainAccuracy: number;
  unclipped: boolean;
  /** The site's evaluation of the round's base model on its held-out split, when the plan asked for one. */
  evaluation?: { examples: number; loss: number; accuracy: number };
}

export interface SiteProtocol {
  readonly name: string;
  /** The first stage's message, from the privatized delta. */
  first(ctx: SiteRoundContext, contribution: SiteContribution): Promise<StageSubmission> | StageSubmission;
  /** A later stage: the message this site sends for the task (with the tensor the task announced, downloaded and digest-checked). */
  stage(ctx: SiteRoundContext, task: StageTaskMsg, tensor?: TypedTensor | null): Promise<StageSubmission> | StageSubmission;
}
