import type * as tfTypes from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { selectBackend, type TfBackendPreference } from '../tfjs/backend.ts';
import { modelFromTopology } from '../models/export.ts';
import { getFlatWeights, setFlatWeights } from '../models/weights.ts';
import { evaluate, trainLocal, type EvalResult } from './trainer.ts';
import type { GlobalModel, LocalTrainer, LocalTrainingResult } from './local-trainer.ts';
import type { RoundPlanMsg } from '../../protocols/index.ts';
import type { TrainProgress } from './trainer.ts';
import { devicesSeen, throughput, type WorkerInfo } from './worker-report.ts';

/**
 * Local training with tfjs on the site's data. The model is rebuilt only when the federation's
 * architecture changes; weights are set from the global model every round.
 */
export class TfjsTrainer implements LocalTrainer {
  private readonly data: Dataset;
  private readonly prefer: TfBackendPreference;
  private tf: typeof tfTypes | null = null;
  private model: tfTypes.LayersModel | null = null;
  private topologyJson = '';

  constructor(data: Dataset, prefer: TfBackendPreference = 'auto') {
    this.data = data;
    this.prefer = prefer;
  }

  async init(): Promise<{ backend: string; reason: string; workers: WorkerInfo[] }> {
    const { tf, backend, reason } = await selectBackend({ prefer: this.prefer });
    this.tf = tf;
    return { backend, reason, workers: [{ index: 0, pid: process.pid, backend, devices: devicesSeen(backend) }] };
  }

  /** The model for `global`'s architecture (rebuilt only when it changes), holding `global`'s weights. */
  private async load(global: GlobalModel): Promise<tfTypes.LayersModel> {
    if (!this.tf) await this.init();
    if (!this.model || this.topologyJson !== global.topologyJson) {
      this.model?.dispose();
      this.model = await modelFromTopology(this.tf!, global.topologyJson);
      this.topologyJson = global.topologyJson;
    }
    setFlatWeights(this.model, global.layout, global.values);
    return this.model;
  }

  async evaluate(global: GlobalModel, data: Dataset): Promise<EvalResult> {
    return evaluate(await this.load(global), data);
  }

  async *train(global: GlobalModel, plan: RoundPlanMsg): AsyncGenerator<TrainProgress, LocalTrainingResult> {
    const model = await this.load(global);
    const training = trainLocal(model, this.data, {
      epochs: plan.training.localEpochs, batchSize: plan.training.batchSize, learningRate: plan.training.learningRate,
      optimizer: plan.training.optimizer === 'adam' ? 'adam' : 'sgd', seed: plan.seed, proxMu: plan.training.proxMu ?? 0,
    });
    let epochStart = performance.now();
    let step = await training.next();
    while (!step.done) {
      if (step.value.kind === 'epoch') {
        // One process computes everything: its compute time is the epoch's wall time.
        const ms = performance.now() - epochStart;
        const own = throughput(0, this.data.count, ms);
        yield { ...step.value, examplesPerS: own.examplesPerS, workers: [own] };
        epochStart = performance.now();
      }
      step = await training.next();
    }
    const result = step.value;
    const local = getFlatWeights(model).values;
    const delta = new Float32Array(local.length);
    for (let i = 0; i < local.length; i++) delta[i] = local[i]! - global.values[i]!;
    return { ...result, delta };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
