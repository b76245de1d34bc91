import type { ModelArtifacts } from '../../protocols/client.ts';
import { CliError, type Flags } from '../../protocols/cli.ts';
import { MODEL_ARCHITECTURES, type TrainingConfig } from '../federation-config.ts';

type ZooArchitecture = (typeof MODEL_ARCHITECTURES)[number];

/** A zoo architecture, or the operator's own tfjs LayersModel (model.json and its weight files). */
export type ModelSource = { kind: 'zoo'; architecture: ZooArchitecture } | { kind: 'file'; path: string };

export interface Evaluation {
  accuracy: number;
  loss: number;
}

/** Scores model versions on the simulation's held-out split, which no site ever loads. */
export interface SimulationEvaluator {
  backend: string;
  reason: string;
  evaluate(model: ModelArtifacts): Promise<Evaluation>;
  dispose(): void;
}

/**
 * What the admin commands need from a machine-learning runtime. This room never loads tfjs: the
 * coordinator keeps models as data. The `conclave` dispatcher (cli/main.ts) injects the site SDK's
 * implementation (client-sdk/cli/model-tools.ts); loading it is cheap, tfjs comes in only when a
 * method needs it.
 */
export interface ModelTools {
  /** Local training defaults for the model (the admin client fills them in; the coordinator requires them). */
  trainingDefaults(source: ModelSource): TrainingConfig;
  /** Version 0: the zoo model with seeded weights, or the file's model with its own; `fits: 'mnist'` refuses a model MNIST cannot train. */
  initialModel(source: ModelSource, options: { seed: number; fits?: 'mnist'; shape?: ZooShape }): Promise<ModelArtifacts>;
  /** A model's input size (values per example; null when not fixed) and output units, for checks against the federation's data flags. */
  modelShape(model: ModelArtifacts): Promise<{ inputSize: number | null; outputUnits: number | null }>;
  /** Writes a version as a tfjs LayersModel: model.json + weights.bin. */
  exportLayersModel(model: ModelArtifacts, outDir: string): Promise<{ modelJson: string; weightsBin: string }>;
  simulationEvaluator(options: { seed: number; backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu' }): Promise<SimulationEvaluator>;
  /** Each simulated site's number of training examples: what a simulation enrols it with (its FedAvg weight cap). */
  simulationShardSizes(split: { partition: 'iid' | 'dirichlet'; sites: number; alpha: number; seed: number }): Promise<number[]>;
}

/** A zoo model's input and classes, when not MNIST's [28, 28, 1] and 10 (`--input-shape`, `--classes`). */
export interface ZooShape {
  inputShape?: number[];
  numClasses?: number;
}

export type LoadModelTools = () => Promise<ModelTools>;

/** --model: a zoo name, or the path of a model.json. */
export function modelSourceFromFlags(flags: Flags, fallback?: string): ModelSource {
  const raw = flags['model'] ?? fallback;
  if (typeof raw !== 'string' || raw === '') throw new CliError(`--model is required: ${MODEL_ARCHITECTURES.join(', ')} or the path of a tfjs model.json`);
  if ((MODEL_ARCHITECTURES as readonly string[]).includes(raw)) return { kind: 'zoo', architecture: raw as ZooArchitecture };
  if (!raw.endsWith('.json')) {
    throw new CliError(`--model must be one of ${MODEL_ARCHITECTURES.join(', ')} or the path of a tfjs LayersModel model.json, got "${raw}"`);
  }
  return { kind: 'file', path: raw };
}

/** What the stored config records: the zoo name, or "custom" (the topology itself is stored with the federation). */
export function modelLabel(source: ModelSource): ZooArchitecture | 'custom' {
  return source.kind === 'zoo' ? source.architecture : 'custom';
}
