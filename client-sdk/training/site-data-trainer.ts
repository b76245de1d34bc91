/**
 * Local training on a site's own files (data/site-data.ts). The data can only be fitted once the
 * federation's model and data spec are known, which is when the first round plan arrives: the
 * first `train` builds the model from its topology to read its input and output, fits the data to
 * it (labels numbered as the federation states, features scaled, every check that needs the model)
 * and only then hands it to the real trainer. A failed check throws before any training step.
 */
import type { RoundPlanMsg } from '../../protocols/index.ts';
import type { Dataset } from '../data/dataset.ts';
import { dataRules, modelInput, type SiteData } from '../data/site-data.ts';
import { modelFromTopology } from '../models/export.ts';
import { selectBackend, type TfBackendPreference } from '../tfjs/backend.ts';
import type { GlobalModel, LocalTrainer, LocalTrainingResult } from './local-trainer.ts';
import type { TrainProgress } from './trainer.ts';

export type TrainerFor = (data: Dataset) => LocalTrainer | Promise<LocalTrainer>;

export class SiteDataTrainer implements LocalTrainer {
  private readonly source: SiteData;
  private readonly prefer: TfBackendPreference;
  private readonly trainerFor: TrainerFor;
  private inner: LocalTrainer | null = null;
  /** What the current data was fitted to: a new topology or data spec fits it again. */
  private fittedTo = '';
  /** The fitted examples (for callers that report the example count). */
  data: Dataset | null = null;

  /** `trainerFor` builds the trainer for the fitted data; default the in-process tfjs trainer. */
  constructor(source: SiteData, prefer: TfBackendPreference = 'auto', trainerFor?: TrainerFor) {
    this.source = source;
    this.prefer = prefer;
    this.trainerFor = trainerFor ?? (async (data) => new (await import('./tfjs-trainer.ts')).TfjsTrainer(data, prefer));
  }

  async init(): Promise<{ backend: string; reason: string }> {
    const { backend, reason } = await selectBackend({ prefer: this.prefer });
    return { backend, reason };
  }

  async *train(global: GlobalModel, plan: RoundPlanMsg): AsyncGenerator<TrainProgress, LocalTrainingResult> {
    const key = `${global.topologyJson}\n${JSON.stringify(plan.data ?? null)}`;
    if (!this.inner || this.fittedTo !== key) {
      const rules = dataRules(plan.data);
      const { tf } = await selectBackend({ prefer: this.prefer });
      const model = await modelFromTopology(tf, global.topologyJson);
      let input;
      try {
        input = modelInput(model);
      } finally {
        model.dispose();
      }
      const data = await this.source.forModel(input, rules);
      this.inner?.dispose();
      this.inner = null;
      const inner = await this.trainerFor(data);
      await inner.init();
      this.inner = inner;
      this.data = data;
      this.fittedTo = key;
    }
    return yield* this.inner.train(global, plan);
  }

  dispose(): void {
    this.inner?.dispose();
    this.inner = null;
  }
}
