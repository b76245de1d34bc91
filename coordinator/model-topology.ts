/**
 * A federation's architecture arrives as tfjs LayersModel topology JSON from the admin client, which
 * built the model (zoo) or read it from the operator's files. The coordinator stores it and hands it
 * to sites; it never builds or runs it, so it checks only what it can check as data: the size, that
 * it is the topology of a LayersModel (not a whole model.json, not a graph model), and that every
 * uploaded weight tensor belongs to a layer the topology names. A site that cannot build it fails
 * its own round; a topology that is not one fails here, with a message that says what to send.
 */
import { ConclaveError, type TensorSpec } from '../protocols/index.ts';

/** The zoo's topologies are ~2 KiB; a hundred-layer functional model stays well under 1 MiB. */
export const MAX_TOPOLOGY_BYTES = 1 << 20;
/** The container classes tfjs serializes a LayersModel as (tf.sequential / tf.model). */
const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'] as const;
const MAX_LAYERS = 10_000;

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function invalid(message: string): ConclaveError {
  return new ConclaveError('INVALID_ARGUMENT', `model topology: ${message}`);
}

/**
 * Parses and checks a LayersModel topology; returns the names of its layers (nested models
 * included). Throws INVALID_ARGUMENT saying what is wrong.
 */
export function checkTopology(topologyJson: string): Set<string> {
  if (typeof topologyJson !== 'string' || topologyJson.length === 0) throw invalid('is required (tfjs LayersModel topology JSON)');
  const bytes = Buffer.byteLength(topologyJson, 'utf8');
  if (bytes > MAX_TOPOLOGY_BYTES) throw invalid(`is ${bytes} bytes, more than ${MAX_TOPOLOGY_BYTES}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(topologyJson);
  } catch (err) {
    throw invalid(`is not JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw invalid('must be a JSON object with class_name and config');
  if ('modelTopology' in parsed || 'weightsManifest' in parsed) {
    throw invalid('this is a whole model.json; send its "modelTopology" (the weights travel as the tensor stream)');
  }
  if ('format' in parsed && parsed['format'] === 'graph-model') throw invalid('a tfjs graph model cannot be trained; use a LayersModel');
  const names = new Set<string>();
  checkModel(parsed, 'topology', names, 0);
  return names;
}

function checkModel(model: Json, where: string, names: Set<string>, depth: number): void {
  const className = model['class_name'];
  if (typeof className !== 'string' || !(MODEL_CLASSES as readonly string[]).includes(className)) {
    throw invalid(`${where}.class_name must be one of ${MODEL_CLASSES.join(', ')} (a tfjs LayersModel), got ${JSON.stringify(className)?.slice(0, 64) ?? 'nothing'}`);
  }
  const config = model['config'];
  // tfjs still reads the pre-2.x Sequential format, whose config is the bare layer list.
  const layers = Array.isArray(config) ? config : isObject(config) ? config['layers'] : undefined;
  if (!Array.isArray(layers) || layers.length === 0) throw invalid(`${where}.config.layers must be a non-empty list of layers`);
  if (layers.length > MAX_LAYERS) throw invalid(`${where} has ${layers.length} layers, more than ${MAX_LAYERS}`);
  if (className !== 'Sequential') {
    const c = config as Json;
    if (!Array.isArray(c['input_layers']) || !Array.isArray(c['output_layers'])) {
      throw invalid(`${where}.config needs input_layers and output_layers (a functional ${className})`);
    }
  }
  layers.forEach((layer, i) => {
    const at = `${where}.config.layers[${i}]`;
    if (!isObject(layer) || typeof layer['class_name'] !== 'string' || layer['class_name'].length === 0 || !isObject(layer['config'])) {
      throw invalid(`${at} must be an object with a class_name and a config`);
    }
    const name = typeof layer['name'] === 'string' ? layer['name'] : layer['config']['name'];
    if (typeof name === 'string' && name.length > 0) names.add(name);
    // A model used as a layer (transfer learning: a base model inside a functional one).
    if ((MODEL_CLASSES as readonly string[]).includes(layer['class_name'])) {
      if (depth >= 8) throw invalid(`${at} nests models more than 8 deep`);
      checkModel(layer, at, names, depth + 1);
    }
  });
}

/**
 * Every weight tfjs creates is named `<layer>/<weight>`: a tensor whose layer the topology does not
 * name was taken from some other model, and sites would refuse it only after downloading it.
 */
export function checkWeightsBelong(layerNames: Set<string>, layout: readonly TensorSpec[]): void {
  for (const spec of layout) {
    const layer = spec.name.split('/')[0]!;
    if (!layerNames.has(layer)) {
      throw invalid(`weight tensor "${spec.name.slice(0, 128)}" belongs to no layer of the topology (layers: ${[...layerNames].slice(0, 20).join(', ')}${layerNames.size > 20 ? ', …' : ''})`);
    }
  }
}
