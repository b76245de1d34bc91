import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import type { TensorSpec } from '../../protocols/index.ts';
import { setFlatWeights } from './weights.ts';
import { readLayersModel } from './initial-model.ts';

type Tf = typeof tfTypes;

/** The (untrained) tfjs model a federation's topology describes; weights come from the registry. */
export function modelFromTopology(tf: Tf, topologyJson: string): Promise<tfTypes.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: JSON.parse(topologyJson) } as tfTypes.io.ModelJSON);
}

/**
 * Writes a model version in the tfjs LayersModel format (model.json + weights.bin), produced by
 * tfjs' own serializer so that `tf.loadLayersModel` reads it back exactly.
 */
export async function exportLayersModel(tf: Tf, model: { topologyJson: string; layout: TensorSpec[]; values: Float32Array }, outDir: string): Promise<{ modelJson: string; weightsBin: string }> {
  const built = await modelFromTopology(tf, model.topologyJson);
  try {
    setFlatWeights(built, model.layout, model.values);
    mkdirSync(outDir, { recursive: true });
    const modelJson = join(outDir, 'model.json');
    const weightsBin = join(outDir, 'weights.bin');
    await built.save(tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      const bytes = weightData === undefined ? new Uint8Array(0)
        : Array.isArray(weightData) ? Buffer.concat(weightData.map((b) => new Uint8Array(b)))
        : new Uint8Array(weightData);
      writeAtomic(weightsBin, bytes);
      writeAtomic(modelJson, JSON.stringify({
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version['tfjs-layers']}`,
        convertedBy: 'conclave',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    return { modelJson, weightsBin };
  } finally {
    built.dispose();
  }
}

/** `tf.loadLayersModel` over files on disk, for Node without tfjs-node's file:// handler (see initial-model.ts). */
export async function loadLayersModelFromDir(_tf: Tf, dir: string): Promise<tfTypes.LayersModel> {
  return readLayersModel(join(dir, 'model.json'));
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
