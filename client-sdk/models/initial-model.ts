/**
 * A federation's version 0, built where tfjs lives: the admin client builds it (a zoo architecture
 * with seeded weights, or the operator's own tfjs LayersModel read from disk) and uploads topology
 * and weights; the coordinator stores them and never runs a model.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConclaveError } from '../../protocols/index.ts';
import type { ModelArtifacts } from '../../protocols/client.ts';
import { buildModel, type ModelArchitecture } from './zoo.ts';
import { getFlatWeights } from './weights.ts';

/**
 * The zoo model with seeded weights. Initializers draw from tfjs' JS-side seeded generator, so the
 * bytes do not depend on the backend (checked: cpu and wasm give the same SHA-256): version 0 of a
 * seed is the same wherever it is built.
 */
export function zooInitialModel(arch: ModelArchitecture, seed: number, shape: { inputShape?: number[]; numClasses?: number } = {}): ModelArtifacts {
  const built = buildModel(arch, { seed, compile: false, ...shape });
  try {
    return artifactsOf(built);
  } finally {
    built.dispose();
  }
}

function artifactsOf(model: tf.LayersModel): ModelArtifacts {
  const { layout, values } = getFlatWeights(model);
  return { topologyJson: JSON.stringify(model.toJSON(undefined, false)), layout, values };
}

/** What a simulation's data looks like, for checking a model fits it before a federation exists. */
export interface DataShape {
  featureShape: readonly number[];
  numClasses: number;
  /** For messages: "MNIST". */
  name: string;
}

/** model.json is topology plus a manifest; the coordinator takes topologies up to 1 MiB. */
const MAX_MODEL_JSON_BYTES = 16 << 20;
const BYTES_PER_WEIGHT = 4;

function invalid(path: string, message: string): ConclaveError {
  return new ConclaveError('INVALID_ARGUMENT', `${path}: ${message}`);
}

interface WeightEntry { name: string; shape: number[]; dtype?: string; quantization?: unknown }
interface ManifestGroup { paths: string[]; weights: WeightEntry[] }

function readManifest(path: string, raw: unknown): { topology: object; manifest: ManifestGroup[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(path, 'is not a tfjs model.json (expected a JSON object)');
  const json = raw as Record<string, unknown>;
  if (json['format'] === 'graph-model' || (typeof json['modelTopology'] === 'object' && json['modelTopology'] !== null && 'node' in json['modelTopology'])) {
    throw invalid(path, 'is a tfjs graph model (inference only); federations train a LayersModel (saved with model.save or "conclave model export")');
  }
  const topology = json['modelTopology'];
  if (typeof topology !== 'object' || topology === null || Array.isArray(topology)) {
    throw invalid(path, 'has no "modelTopology": not a tfjs LayersModel model.json');
  }
  const className = (topology as Record<string, unknown>)['class_name'];
  if (typeof className !== 'string' || !['Sequential', 'Model', 'Functional'].includes(className)) {
    throw invalid(path, `modelTopology.class_name must be Sequential, Model or Functional (a tfjs LayersModel), got ${JSON.stringify(className) ?? 'nothing'}`);
  }
  const manifest = json['weightsManifest'];
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw invalid(path, 'has no "weightsManifest": the model\'s weights are its starting point, save it with them (model.save, "conclave model export")');
  }
  manifest.forEach((group: unknown, i) => {
    const g = group as Partial<ManifestGroup> | null;
    const paths = g?.paths;
    const weights = g?.weights;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p.length > 0)
      || !Array.isArray(weights) || !weights.every((w) => typeof w?.name === 'string' && Array.isArray(w.shape) && w.shape.every((d) => Number.isInteger(d) && d >= 0))) {
      throw invalid(path, `weightsManifest[${i}] must have "paths" (file names) and "weights" ({ name, shape, dtype })`);
    }
    for (const w of weights) {
      if (w.quantization !== undefined) throw invalid(path, `weight ${w.name} is quantized; federations need float32 weights (save the model unquantized)`);
      if ((w.dtype ?? 'float32') !== 'float32') throw invalid(path, `weight ${w.name} has dtype ${w.dtype}; federations train float32 weights only`);
    }
  });
  return { topology, manifest: manifest as ManifestGroup[] };
}

/**
 * Reads a tfjs LayersModel from disk (model.json and the weight files its manifest lists, relative
 * to it) and builds it, without a network or tfjs-node's file:// handler. Every way the files can
 * be wrong is an INVALID_ARGUMENT that names the file and what to fix.
 */
export async function readLayersModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const path = resolve(modelJsonPath);
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_MODEL_JSON_BYTES) throw new Error(`${size} bytes, more than ${MAX_MODEL_JSON_BYTES} for a model.json`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw invalid(path, `cannot read it (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(path, `is not JSON (${(err as Error).message})`);
  }
  const { topology, manifest } = readManifest(path, raw);
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    for (const file of group.paths) {
      const weightsPath = resolve(dirname(path), file);
      try {
        buffers.push(readFileSync(weightsPath));
      } catch (err) {
        throw invalid(path, `weight file ${file} cannot be read (${(err as Error).message})`);
      }
    }
  }
  const weightSpecs = manifest.flatMap((group) => group.weights).map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' as const }));
  const needed = weightSpecs.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1) * BYTES_PER_WEIGHT, 0);
  const all = Buffer.concat(buffers);
  if (all.length !== needed) {
    throw invalid(path, `its weight files hold ${all.length} bytes, the manifest's ${weightSpecs.length} weights need ${needed}${all.length < needed ? ' (a missing or truncated weight file?)' : ''}`);
  }
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: topology,
      weightSpecs,
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    }),
  };
  try {
    return await tf.loadLayersModel(handler);
  } catch (err) {
    throw invalid(path, `does not load as a tfjs LayersModel: ${(err as Error).message}`);
  }
}

/**
 * What the SDK's trainer needs of a model (training/trainer.ts): one input, one output of class
 * probabilities (it minimizes sparse cross-entropy on them), every weight trainable (only trainable
 * weights are federated: a BatchNormalization's moving statistics would silently reset at sites).
 */
function checkTrainable(path: string, model: tf.LayersModel): void {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw invalid(path, `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; the site trainer takes one of each`);
  }
  const frozen = model.nonTrainableWeights.map((w) => w.originalName);
  if (frozen.length > 0) {
    throw invalid(path, `non-trainable weights (${frozen.slice(0, 5).join(', ')}${frozen.length > 5 ? ', …' : ''}) are not federated; use a model whose weights are all trainable`);
  }
  const outputLayer = model.outputs[0]!.sourceLayer;
  const activation = (outputLayer.getConfig() as { activation?: unknown }).activation;
  if (activation !== 'softmax' && outputLayer.getClassName() !== 'Softmax') {
    throw invalid(path, `the output layer "${outputLayer.name}" must end in a softmax: sites minimize cross-entropy on class probabilities`);
  }
}

/** A model fits the data when its input is the features (any shape of as many values, e.g. 28×28×1 or 784) and it outputs one probability per class. */
export function checkFits(path: string, model: tf.LayersModel, data: DataShape): void {
  const input = model.inputs[0]!.shape.slice(1);
  const features = data.featureShape.reduce((a, b) => a * b, 1);
  const size = input.some((d) => d === null) ? NaN : (input as number[]).reduce((a, b) => a * b, 1);
  if (size !== features) {
    throw invalid(path, `the model's input is [${input.map((d) => d ?? '?').join(', ')}], ${data.name} examples are [${data.featureShape.join(', ')}] (${features} values; a model input of [${data.featureShape.join(', ')}] or [${features}] fits)`);
  }
  const output = model.outputs[0]!.shape;
  const classes = output[output.length - 1];
  if (output.length !== 2 || classes !== data.numClasses) {
    throw invalid(path, `the model outputs [${output.slice(1).map((d) => d ?? '?').join(', ')}], ${data.name} has ${data.numClasses} classes (one output unit per class)`);
  }
}

/** Version 0 from the operator's own LayersModel: its topology, and its weights as the starting point. */
export async function fileInitialModel(modelJsonPath: string, options: { fits?: DataShape } = {}): Promise<ModelArtifacts> {
  const path = resolve(modelJsonPath);
  const model = await readLayersModel(path);
  try {
    checkTrainable(path, model);
    if (options.fits) checkFits(path, model, options.fits);
    return artifactsOf(model);
  } finally {
    model.dispose();
  }
}
