/**
 * The tfjs side of the operator's commands, injected into coordinator/cli by the `conclave`
 * dispatcher (its ModelTools port): build or read a federation's version 0, export a version, score
 * versions in a simulation. Only the training defaults are loaded with this module; tfjs and the
 * data are imported when a method first needs them.
 */
import type { ModelArtifacts } from '../../protocols/client.ts';
import { CUSTOM_MODEL_HYPERPARAMS, recommendedHyperParams, type LocalHyperParams } from '../training/defaults.ts';
import type { TfBackendPreference } from '../tfjs/backend.ts';

type Source = { kind: 'zoo'; architecture: 'mlp' | 'cnn' } | { kind: 'file'; path: string };

/** tfjs in production mode before anything is built: no debug checks, and no banner on stdout. */
async function tfjs(prefer: TfBackendPreference = 'cpu') {
  const { selectBackend } = await import('../tfjs/backend.ts');
  return selectBackend({ prefer });
}

function trainingOf(h: Readonly<LocalHyperParams>) {
  return { localEpochs: h.epochs, batchSize: h.batchSize, learningRate: h.learningRate, optimizer: h.optimizer };
}

export const modelTools = {
  trainingDefaults(source: Source) {
    return trainingOf(source.kind === 'zoo' ? recommendedHyperParams(source.architecture) : CUSTOM_MODEL_HYPERPARAMS);
  },

  async initialModel(source: Source, options: { seed: number; fits?: 'mnist'; shape?: { inputShape?: number[]; numClasses?: number } }): Promise<ModelArtifacts> {
    await tfjs();
    const { fileInitialModel, zooInitialModel } = await import('../models/initial-model.ts');
    if (source.kind === 'zoo') return zooInitialModel(source.architecture, options.seed, options.shape);
    const { MNIST_SHAPE } = await import('../data/mnist.ts');
    return fileInitialModel(source.path, options.fits === 'mnist' ? { fits: MNIST_SHAPE } : {});
  },

  async modelShape(model: ModelArtifacts) {
    const { tf } = await tfjs();
    const { modelFromTopology } = await import('../models/export.ts');
    const { modelInput } = await import('../data/site-data.ts');
    const built = await modelFromTopology(tf, model.topologyJson);
    try {
      const { inputShape, numClasses } = modelInput(built);
      return { inputSize: inputShape.every((d) => d !== null) ? (inputShape as number[]).reduce((a, b) => a * b, 1) : null, outputUnits: numClasses };
    } finally {
      built.dispose();
    }
  },

  async exportLayersModel(model: ModelArtifacts, outDir: string) {
    const { tf } = await tfjs();
    const { exportLayersModel } = await import('../models/export.ts');
    return exportLayersModel(tf, model, outDir);
  },

  async simulationShardSizes(split: { partition: 'iid' | 'dirichlet'; sites: number; alpha: number; seed: number }) {
    const { simulatedSiteShards } = await import('../data/simulated.ts');
    const shards = simulatedSiteShards({ dataset: 'mnist', ...split }, Array.from({ length: split.sites }, (_, i) => i));
    return [...shards.values()].map((d) => d.count);
  },

  /** One model, rebuilt only if the topology changes, scored on the seed's held-out split. */
  async simulationEvaluator(options: { seed: number; backend: TfBackendPreference }) {
    const { tf, backend, reason } = await tfjs(options.backend);
    const [{ simulatedTestData }, { modelFromTopology }, { setFlatWeights }, { evaluate }] = await Promise.all([
      import('../data/simulated.ts'), import('../models/export.ts'), import('../models/weights.ts'), import('../training/trainer.ts'),
    ]);
    const test = simulatedTestData({ seed: options.seed });
    let built: { topologyJson: string; model: Awaited<ReturnType<typeof modelFromTopology>> } | null = null;
    return {
      backend,
      reason,
      async evaluate(model: ModelArtifacts) {
        if (built?.topologyJson !== model.topologyJson) {
          built?.model.dispose();
          built = { topologyJson: model.topologyJson, model: await modelFromTopology(tf, model.topologyJson) };
        }
        setFlatWeights(built.model, model.layout, model.values);
        return evaluate(built.model, test);
      },
      dispose() {
        built?.model.dispose();
        built = null;
      },
    };
  },
};
