/**
 * The site's local training, behind an interface: the Participant hands it the global model and
 * the round's training settings and gets back the delta. The tfjs trainer is the default; a site's
 * worker pool, or a test's deterministic fake, plugs in the same way.
 */
import type { RoundPlanMsg, TensorSpec } from '../../protocols/index.ts';
import type { EvalResult, TrainProgress, TrainResult } from './trainer.ts';
import type { Dataset } from '../data/dataset.ts';
import type { WorkerInfo } from './worker-report.ts';

export interface GlobalModel {
  version: number;
  topologyJson: string;
  layout: TensorSpec[];
  values: Float32Array;
}

export interface LocalTrainingResult extends TrainResult {
  /** New local weights − global weights, in the model's layout. */
  delta: Float32Array;
}

export interface LocalTrainer {
  /** Loads whatever the trainer needs (e.g. a tfjs backend) and says what it runs on. */
  init(): Promise<{ backend: string; reason: string; workers?: WorkerInfo[] }>;
  train(global: GlobalModel, plan: RoundPlanMsg): AsyncGenerator<TrainProgress, LocalTrainingResult>;
  /** Mean loss and accuracy of the global model on `data` (federated evaluation); a trainer without it never evaluates. */
  evaluate?(global: GlobalModel, data: Dataset): Promise<EvalResult>;
  dispose(): void;
}
