/**
 * Flat weight vectors: the wire format between client and coordinator.
 * All trainable weights of a model are concatenated (in model.getWeights()
 * order) into one Float32Array described by a layout of TensorSpecs.
 */
import * as tf from '@tensorflow/tfjs';
import type { TensorSpec } from '../../protocols/index.ts';

/** Specs name variables without tfjs' per-process uniquifying suffix, e.g. `dense1/kernel`; model weights are float32. */
export type { TensorSpec };

export interface FlatWeights {
  layout: TensorSpec[];
  values: Float32Array;
}

interface NamedVariable {
  originalName?: string;
  name: string;
  shape: number[];
  dtype: string;
  trainable: boolean;
  read(): tf.Tensor;
  write(t: tf.Tensor): unknown;
}

function trainableVariables(model: tf.LayersModel): NamedVariable[] {
  // model.getWeights() order == model.weights order; keep only the trainable ones.
  return (model.weights as unknown as NamedVariable[]).filter((w) => w.trainable);
}

function specName(v: NamedVariable): string {
  return v.originalName ?? v.name;
}

/** Total number of scalars described by a layout. */
export function layoutSize(layout: readonly TensorSpec[]): number {
  let n = 0;
  for (const t of layout) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** The layout of a model's trainable weights (no tensor data is read). */
export function getLayout(model: tf.LayersModel): TensorSpec[] {
  return trainableVariables(model).map((v) => {
    if (v.dtype !== 'float32') throw new Error(`weights: variable ${specName(v)} has dtype ${v.dtype}; only float32 is supported`);
    return { name: specName(v), shape: [...v.shape], dtype: 'float32' };
  });
}

/** Copies all trainable weights into one Float32Array. */
export function getFlatWeights(model: tf.LayersModel): FlatWeights {
  const vars = trainableVariables(model);
  const layout = getLayout(model);
  const values = new Float32Array(layoutSize(layout));
  let offset = 0;
  for (const v of vars) {
    const data = v.read().dataSync() as Float32Array;
    values.set(data, offset);
    offset += data.length;
  }
  return { layout, values };
}

/** Human-readable description of why `actual` differs from `expected`, or null if they match. */
export function layoutMismatch(expected: readonly TensorSpec[], actual: readonly TensorSpec[]): string | null {
  if (expected.length !== actual.length) {
    return `expected ${expected.length} tensors (${expected.map((t) => t.name).join(', ')}), got ${actual.length} (${actual.map((t) => t.name).join(', ')})`;
  }
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (e.name !== a.name) return `tensor ${i}: expected name '${e.name}', got '${a.name}'`;
    if (e.dtype !== a.dtype) return `tensor ${i} ('${e.name}'): expected dtype ${e.dtype}, got ${a.dtype}`;
    if (e.shape.length !== a.shape.length || e.shape.some((d, k) => d !== a.shape[k])) {
      return `tensor ${i} ('${e.name}'): expected shape [${e.shape.join(', ')}], got [${a.shape.join(', ')}]`;
    }
  }
  return null;
}

/**
 * Overwrites the model's trainable weights from a flat vector. Throws if
 * `layout` does not match the model or `values` has the wrong length; the
 * model is left untouched in that case.
 */
export function setFlatWeights(model: tf.LayersModel, layout: readonly TensorSpec[], values: Float32Array): void {
  const modelLayout = getLayout(model);
  const why = layoutMismatch(modelLayout, layout);
  if (why !== null) throw new Error(`setFlatWeights: layout does not match model '${model.name}': ${why}`);
  const expected = layoutSize(modelLayout);
  if (!(values instanceof Float32Array)) throw new TypeError('setFlatWeights: values must be a Float32Array');
  if (values.length !== expected) {
    throw new Error(`setFlatWeights: values has ${values.length} elements, layout needs ${expected}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new Error(`setFlatWeights: values[${i}] is not finite (${values[i]})`);
  }
  const vars = trainableVariables(model);
  let offset = 0;
  for (let i = 0; i < vars.length; i++) {
    const spec = modelLayout[i]!;
    const n = spec.shape.reduce((a, b) => a * b, 1);
    // slice() copies, so the caller may reuse `values` afterwards.
    const t = tf.tensor(values.slice(offset, offset + n), spec.shape, 'float32');
    // Variable.assign releases the previous value and takes a reference to t's data.
    vars[i]!.write(t);
    t.dispose();
    offset += n;
  }
}
