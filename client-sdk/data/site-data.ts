/**
 * A site's own data, checked against the federation before any training. Loading has two steps:
 * reading the files, with every check that needs no model (csv.ts: header, label column, ragged
 * rows, missing or non-numeric values; images.ts: folders, undecodable files), done when the site
 * starts; then `forModel`, once the first round's model and data spec are known: feature count or
 * image shape against the model's input, labels against the federation's classes, and the
 * federation's feature scaling. Every error is an INVALID_ARGUMENT that names the file and the row
 * or image, so `participant run` exits 3 before it trains.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { ConclaveError, type DataSpecMsg } from '../../protocols/index.ts';
import type { Dataset } from './dataset.ts';

/** What the federation's model takes: one example's shape (null: any size) and the number of classes. */
export interface ModelInput {
  inputShape: (number | null)[];
  numClasses: number;
}

/** The federation's statement about sites' data, validated (what RoundPlan.data carries). */
export interface DataRules {
  /** Class names in class-index order; empty: labels are the integers 0..K-1. */
  classes: string[];
  scaling: { kind: 'none' } | { kind: 'minmax'; min: number[]; max: number[] } | { kind: 'standard'; mean: number[]; std: number[] };
  /** CSV feature columns by name, in the model's input order; empty: every non-label column in file order. */
  features: string[];
}

/** Data the site loaded but has not yet fitted to a model: a Participant's `data` may be one. */
export interface SiteData {
  readonly kind: 'site-data';
  /** What was read, for messages: "train.csv", "images/". */
  readonly source: string;
  /** Examples read. */
  readonly count: number;
  /** The examples as the model takes them, labels numbered as the federation states and features scaled. */
  forModel(model: ModelInput, rules: DataRules): Promise<Dataset>;
}

export function isSiteData(x: unknown): x is SiteData {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'site-data';
}

export function dataError(message: string): ConclaveError {
  return new ConclaveError('INVALID_ARGUMENT', message);
}

/** The single input's per-example shape and the softmax output's width. */
export function modelInput(model: tfTypes.LayersModel): ModelInput {
  const input = model.inputs[0]!.shape.slice(1);
  const output = model.outputs[0]!.shape;
  const classes = output[output.length - 1];
  if (output.length !== 2 || typeof classes !== 'number') {
    throw dataError(`the federation's model outputs [${output.slice(1).map((d) => d ?? '?').join(', ')}]; site data needs one output per class`);
  }
  return { inputShape: input, numClasses: classes };
}

const MAX_MESSAGE_NAME = 64;
/** Strings from a coordinator or a file go into messages truncated. */
export function quote(value: string): string {
  return JSON.stringify(value.length > MAX_MESSAGE_NAME ? `${value.slice(0, MAX_MESSAGE_NAME)}…` : value);
}

/**
 * The plan's data spec, checked: the coordinator validated it at creation, but a site does not
 * take a network message's word for it. Absent: no names, no scaling.
 */
export function dataRules(msg: DataSpecMsg | null | undefined): DataRules {
  const classes = msg?.classes ?? [];
  if (classes.length === 1 || new Set(classes).size !== classes.length || classes.some((c) => c === '')) {
    throw dataError('the federation\'s data spec lists invalid classes (need two or more distinct names)');
  }
  const features = msg?.features ?? [];
  if (new Set(features).size !== features.length || features.some((f) => f === '')) {
    throw dataError('the federation\'s data spec lists invalid feature columns (need distinct names)');
  }
  const s = msg?.scaling;
  const finite = (v: number[]) => v.length > 0 && v.every(Number.isFinite);
  if (!s || s.kind === '' || s.kind === 'none') return { classes, features, scaling: { kind: 'none' } };
  if (s.kind === 'minmax' && finite(s.min) && s.min.length === s.max.length && s.max.every((m, i) => Number.isFinite(m) && m > s.min[i]!)) {
    return { classes, features, scaling: { kind: 'minmax', min: s.min, max: s.max } };
  }
  if (s.kind === 'standard' && finite(s.mean) && s.mean.length === s.std.length && s.std.every((v) => Number.isFinite(v) && v > 0)) {
    return { classes, features, scaling: { kind: 'standard', mean: s.mean, std: s.std } };
  }
  throw dataError(`the federation's feature scaling ${quote(s.kind)} is malformed; ask its operator`);
}

/** The model's input as fixed dimensions, or an error saying why the site cannot fill it. */
export function fixedShape(model: ModelInput, what: string): number[] {
  if (model.inputShape.some((d) => d === null)) {
    throw dataError(`the federation's model takes input [${model.inputShape.map((d) => d ?? '?').join(', ')}], which has no fixed size for ${what}`);
  }
  return model.inputShape as number[];
}

/** Maps label texts to class indices: by the federation's names, else as integers 0..K-1. `where(i)` names example i. */
export function labelIndex(rules: DataRules, numClasses: number, source: string): (label: string, where: () => string) => number {
  if (rules.classes.length > 0) {
    if (rules.classes.length !== numClasses) {
      throw dataError(`the federation names ${rules.classes.length} classes but its model outputs ${numClasses}; ask its operator`);
    }
    const byName = new Map(rules.classes.map((c, i) => [c, i]));
    return (label, where) => {
      const k = byName.get(label);
      if (k === undefined) throw dataError(`${where()}: label ${quote(label)} is not one of the federation's classes (${rules.classes.slice(0, 20).join(', ')})`);
      return k;
    };
  }
  return (label, where) => {
    const k = /^\d+$/.test(label) ? Number(label) : NaN;
    if (!(k < numClasses)) {
      throw dataError(`${where()}: label ${quote(label)} is not a class of the federation's model (the federation names no classes, so labels must be the integers 0..${numClasses - 1}; ${source})`);
    }
    return k;
  };
}

/** Applies the federation's scaling in place, per feature (`size` values per example). */
export function applyScaling(features: Float32Array, size: number, rules: DataRules, source: string): void {
  const s = rules.scaling;
  if (s.kind === 'none') return;
  const offset = s.kind === 'minmax' ? s.min : s.mean;
  const scale = s.kind === 'minmax' ? s.max.map((m, i) => m - s.min[i]!) : s.std;
  if (offset.length !== size) {
    throw dataError(`${source}: the federation's ${s.kind} scaling is stated for ${offset.length} features, this data has ${size} per example`);
  }
  for (let i = 0; i < features.length; i++) {
    const f = i % size;
    features[i] = (features[i]! - offset[f]!) / scale[f]!;
  }
}
