import type { TensorSpec } from '../protocols/index.ts';
import type { ModelArchitectureName } from './federation-config.ts';

/**
 * Builds a federation's version 0 from the model zoo: the architecture (as tfjs topology JSON,
 * so sites need no copy of the code) and seeded initial weights. Nothing is trained here.
 * tfjs is loaded lazily: a coordinator that never creates a federation never pays for it.
 */
export async function buildInitialModel(model: ModelArchitectureName, seed: number): Promise<{ topologyJson: string; layout: TensorSpec[]; values: Float32Array }> {
  const tf = await import('@tensorflow/tfjs');
  const { buildModel } = await import('../client-sdk/models/zoo.ts');
  const { getFlatWeights } = await import('../client-sdk/models/weights.ts');
  tf.env().set('PROD', true); // no debug checks, no "install tfjs-node" banner in the coordinator's log
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const built = buildModel(model, { seed, compile: false });
  try {
    const topology = built.toJSON(undefined, false);
    const { layout, values } = getFlatWeights(built);
    return { topologyJson: JSON.stringify(topology), layout, values };
  } finally {
    built.dispose();
  }
}
