/**
 * TypeScript shapes of the conclave.v1 messages as @grpc/proto-loader presents them
 * (camelCase fields, uint64/int64 as numbers, bytes as Buffer, oneofs with a discriminator).
 * Values from the network are not trusted to match these: the coordinator validates at the edge.
 */
import type { TensorSpec } from './tensor-codec.ts';

export const PROTOCOL_VERSION = 'conclave.v1';

export interface TensorHeaderMsg {
  layout: TensorSpec[];
  totalElements: number;
  sha256: Buffer;
  chunkCount: number;
}

export interface TensorChunkMsg {
  index: number;
  data: Buffer;
}

export interface TrainingConfigMsg {
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: string;
}

export interface RoundPlanMsg {
  federationId: string;
  roundId: string;
  roundNumber: number;
  modelVersion: number;
  modelSha256: Buffer;
  training: TrainingConfigMsg;
  deadlineUnixMs: number;
  protection: string;
  seed: number;
  dp: DpPlanMsg | null;
  protectionPlan: ProtectionPlanMsg | null;
}

export type ProtectionPlanMsg = { protocol: string; stages: string[] } & (
  | { params: 'none'; none: Record<string, never> }
  | { params: 'opaque'; opaque: OpaqueBodyMsg }
  | { params?: undefined });

export interface OpaqueBodyMsg { data: Buffer }

export type StageTaskMsg = { roundId: string; roundNumber: number; stage: string; deadlineUnixMs: number } & (
  | { body: 'opaque'; opaque: OpaqueBodyMsg }
  | { body?: undefined });

export interface DpPlanMsg {
  mode: string;
  clipNorm: number;
  siteNoiseStd: number;
  reportUnclipped: boolean;
  noiseMultiplier: number;
  sampleRate: number;
  delta: number;
}

export interface GetTaskRequestMsg { waitMs: number }

export type GetTaskResponseMsg =
  | { task: 'round'; round: RoundPlanMsg }
  | { task: 'wait'; wait: { retryAfterMs: number; reason: string } }
  | { task: 'finished'; finished: { reason: string; finalModelVersion: number } }
  | { task: 'stage'; stage: StageTaskMsg };

export interface DownloadModelRequestMsg { federationId: string; version: number; latest: boolean }

export interface ModelHeaderMsg {
  federationId: string;
  version: number;
  topologyJson: string;
  tensor: TensorHeaderMsg;
}

export type ModelStreamMsg =
  | { part: 'header'; header: ModelHeaderMsg }
  | { part: 'chunk'; chunk: TensorChunkMsg };

export interface UpdateBodyMsg {
  numExamples: number;
  trainLoss: number;
  trainAccuracy: number;
  unclipped: boolean;
}

export type StageHeaderMsg = { roundId: string; stage: string; tensor: TensorHeaderMsg | null } & (
  | { body: 'update'; update: UpdateBodyMsg }
  | { body: 'opaque'; opaque: OpaqueBodyMsg }
  | { body?: undefined });

export type StageStreamMsg =
  | { part: 'header'; header: StageHeaderMsg }
  | { part: 'chunk'; chunk: TensorChunkMsg };

export interface SubmitStageResponseMsg { roundId: string; stage: string; received: number }

export interface FederationConfigMsg {
  name: string;
  model: string;
  rounds: number;
  sitesPerRound: number;
  minSites: number;
  roundDeadlineMs: number;
  training: TrainingConfigMsg;
  seed: number;
  /** Deprecated: the protection kind alone, for clients that predate `protectionConfig`. */
  protection: string;
  privacy: PrivacyConfigMsg | null;
  protectionConfig: ProtectionConfigMsg | null;
  aggregation: AggregationConfigMsg | null;
}

/** Oneofs as proto-loader presents them: `kind` names the member that is set (none when unknown to this build). */
export type ProtectionConfigMsg =
  | { kind: 'none'; none: Record<string, never> }
  | { kind?: undefined };

export type AggregationConfigMsg =
  | { kind: 'fedavg'; fedavg: FedAvgConfigMsg }
  | { kind?: undefined };

export interface FedAvgConfigMsg {
  /** "examples" | "uniform"; "" = the default (examples without DP, uniform with DP). */
  weighting: string;
  serverOptimizer: ServerOptimizerConfigMsg | null;
}

export type ServerOptimizerConfigMsg =
  | { kind: 'sgd'; sgd: { learningRate: number } }
  | { kind?: undefined };

export interface PrivacyConfigMsg {
  mode: string;
  noiseMultiplier: number;
  clipNorm: number;
  sampleRate: number;
  adaptiveClip: boolean;
  targetQuantile: number;
  clipLearningRate: number;
  countNoiseStd: number;
  budgetEpsilon: number;
  delta: number;
  localEpsilon: number;
}

export interface EpsilonReportMsg {
  epsilon: number;
  accountant: string;
  rdpEpsilon: number;
  pldEpsilon: number;
  budgetEpsilon: number;
}

export interface ParticipantPrivacyMsg {
  siteId: string;
  siteName: string;
  epsilon: EpsilonReportMsg;
  roundsEligible: number;
  sampleRate: number;
}

export interface LedgerEntryMsg { seq: number; payloadJson: string; hash: string; jws: string }

export interface GetLedgerResponseMsg {
  federationId: string;
  delta: number;
  federation: EpsilonReportMsg | null;
  participants: ParticipantPrivacyMsg[];
  entries: LedgerEntryMsg[];
  jwksJson: string;
}

export interface FederationMsg {
  id: string;
  config: FederationConfigMsg;
  status: string;
  latestModelVersion: number;
  committedRounds: number;
  createdUnixMs: number;
  finishReason: string;
}

/** CreateFederation's first message: the config, version 0's topology and its tensor header; chunks follow. */
export interface CreateFederationHeaderMsg {
  config: FederationConfigMsg | null;
  topologyJson: string;
  tensor: TensorHeaderMsg | null;
}

export type CreateFederationStreamMsg =
  | { part: 'header'; header: CreateFederationHeaderMsg }
  | { part: 'chunk'; chunk: TensorChunkMsg };

export interface RoundMsg {
  id: string;
  federationId: string;
  number: number;
  state: string;
  baseVersion: number;
  resultVersion: number;
  selectedSites: string[];
  submittedSites: string[];
  abortReason: string;
  openedUnixMs: number;
  closedUnixMs: number;
  totalExamples: number;
}

export interface ModelVersionMsg {
  federationId: string;
  version: number;
  parentVersion: number;
  roundId: string;
  sha256: Buffer;
  numParameters: number;
  createdUnixMs: number;
  metricsJson: string;
}

export interface FederationEventMsg {
  round?: RoundMsg | null;
  federation?: FederationMsg | null;
}
