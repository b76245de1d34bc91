/**
 * Compressed encodings of a plain model delta (protection "none", no DP), named by UpdateBody's
 * `encoding`. Wire formats only: which one a federation uses is the coordinator's policy.
 *
 * - "" (none): float32 in the model's layout.
 * - "q8": one signed byte per element, in the model's layout with dtype "bytes", and one float32
 *   scale per tensor (`q8Scales`): element = byte × scale. Stochastic rounding makes every element
 *   an unbiased estimate of the original (E[q·s] = x; Alistarh et al. 2017's QSGD with s = 127
 *   levels per sign), with |error| < scale = max|x| / 127 per element. ~4× fewer bytes.
 * - "topk": the k largest-magnitude coordinates as two uint32 tensors of shape [k], "indices"
 *   (strictly increasing) and "values" (float32 bit patterns): 8·k bytes instead of 4·n. What is
 *   left out is kept by the site and added to its next update (error feedback, Stich et al. 2018;
 *   client-sdk/compression.ts).
 *
 * `decodeUpdate` is what a receiver runs on untrusted input: every length, index and scale is
 * checked before a value is written.
 */
import { ConclaveError } from './errors.ts';
import { layoutElements, type Dtype, type TensorSpec, type TypedTensor } from './tensor-codec.ts';

export const UPDATE_ENCODINGS = ['', 'q8', 'topk'] as const;
export type UpdateEncoding = (typeof UPDATE_ENCODINGS)[number];

/** The largest scale whose 127 multiple is still a finite float32. */
const MAX_Q8_SCALE = 3.4028234663852886e38 / 127;

export interface EncodedUpdate {
  encoding: UpdateEncoding;
  layout: TensorSpec[];
  values: TypedTensor;
  q8Scales: number[];
}

/** The smallest float32 ≥ x (x ≥ 0): a scale rounded up never lets |x / scale| exceed 127. */
function float32AtLeast(x: number): number {
  const f = new Float32Array([x]);
  if (f[0]! < x) {
    const bits = new Uint32Array(f.buffer);
    bits[0]! += 1;
  }
  return f[0]!;
}

/**
 * 8-bit stochastic quantization, one scale per tensor of `layout`. `random` returns uniform
 * numbers in [0, 1) (injectable so tests are deterministic).
 */
export function quantize8(delta: Float32Array, layout: readonly TensorSpec[], random: () => number = Math.random): { bytes: Uint8Array; scales: number[] } {
  if (layoutElements(layout) !== delta.length) throw new ConclaveError('LAYOUT_MISMATCH', `layout describes ${layoutElements(layout)} elements, the delta has ${delta.length}`);
  const q = new Int8Array(delta.length);
  const scales: number[] = [];
  let offset = 0;
  for (const spec of layout) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    let max = 0;
    for (let i = offset; i < offset + size; i++) max = Math.max(max, Math.abs(delta[i]!));
    const scale = max === 0 ? 0 : float32AtLeast(max / 127);
    scales.push(scale);
    if (scale > 0) {
      for (let i = offset; i < offset + size; i++) {
        const x = delta[i]! / scale;
        const low = Math.floor(x);
        q[i] = low + (random() < x - low ? 1 : 0);
      }
    }
    offset += size;
  }
  return { bytes: new Uint8Array(q.buffer), scales };
}

/** Indices of the k largest |v| (ties broken by the lower index), increasing. */
export function topKIndices(v: Float32Array, k: number): Uint32Array {
  if (!Number.isInteger(k) || k < 1 || k > v.length) throw new ConclaveError('INVALID_ARGUMENT', `k must be an integer in [1, ${v.length}], got ${k}`);
  const magnitudes = Float32Array.from(v, Math.abs).sort();
  const threshold = magnitudes[v.length - k]!;
  let above = 0;
  for (let i = v.length - k; i < v.length; i++) if (magnitudes[i]! > threshold) above++;
  let ties = k - above;
  const out = new Uint32Array(k);
  let j = 0;
  for (let i = 0; i < v.length && j < k; i++) {
    const m = Math.abs(v[i]!);
    if (m > threshold || (m === threshold && ties-- > 0)) out[j++] = i;
  }
  return out;
}

/** The number of coordinates a top-k update of an n-element model carries at `ratio`. */
export function topKCount(n: number, ratio: number): number {
  return Math.min(n, Math.max(1, Math.ceil(ratio * n)));
}

/** Packs chosen coordinates of `v` as the "topk" tensor. */
export function encodeTopK(v: Float32Array, indices: Uint32Array): EncodedUpdate {
  const k = indices.length;
  const values = new Float32Array(k);
  for (let j = 0; j < k; j++) values[j] = v[indices[j]!]!;
  const packed = new Uint32Array(2 * k);
  packed.set(indices, 0);
  packed.set(new Uint32Array(values.buffer), k);
  return {
    encoding: 'topk', q8Scales: [], values: packed,
    layout: [{ name: 'indices', shape: [k], dtype: 'uint32' }, { name: 'values', shape: [k], dtype: 'uint32' }],
  };
}

export function encodeQ8(delta: Float32Array, layout: readonly TensorSpec[], random?: () => number): EncodedUpdate {
  const { bytes, scales } = quantize8(delta, layout, random);
  return { encoding: 'q8', q8Scales: scales, values: bytes, layout: layout.map((s) => ({ ...s, dtype: 'bytes' as const })) };
}

/** What a receiver lets a message with this encoding announce, before any chunk is buffered. */
export function updateExpectation(encoding: string, modelLayout: TensorSpec[]): { dtype: Dtype; layout?: TensorSpec[]; maxElements: number } {
  const n = layoutElements(modelLayout);
  switch (encoding) {
    case '': return { dtype: 'float32', layout: modelLayout, maxElements: n };
    case 'q8': return { dtype: 'bytes', layout: modelLayout.map((s) => ({ ...s, dtype: 'bytes' as const })), maxElements: n };
    case 'topk': return { dtype: 'uint32', maxElements: 2 * n };
    default: throw new ConclaveError('INVALID_ARGUMENT', `unknown update encoding "${encoding.slice(0, 32)}"; this coordinator knows ${UPDATE_ENCODINGS.map((e) => `"${e}"`).join(', ')}`);
  }
}

/**
 * The dense float32 delta an encoded update stands for, in the model's layout. The tensor has
 * already passed `updateExpectation` (dtype, size) and the digest check; everything else is
 * checked here.
 */
export function decodeUpdate(encoding: string, q8Scales: readonly number[], tensor: TypedTensor, tensorLayout: readonly TensorSpec[], modelLayout: readonly TensorSpec[]): Float32Array {
  const n = layoutElements(modelLayout);
  switch (encoding) {
    case '': {
      if (!(tensor instanceof Float32Array) || tensor.length !== n) throw new ConclaveError('LAYOUT_MISMATCH', `a plain update is ${n} float32 values`);
      return tensor;
    }
    case 'q8': {
      if (!(tensor instanceof Uint8Array) || tensor.length !== n) throw new ConclaveError('LAYOUT_MISMATCH', `a q8 update is ${n} bytes`);
      if (q8Scales.length !== modelLayout.length) throw new ConclaveError('INVALID_ARGUMENT', `a q8 update needs one scale per tensor (${modelLayout.length}), got ${q8Scales.length}`);
      const q = new Int8Array(tensor.buffer, tensor.byteOffset, tensor.length);
      const out = new Float32Array(n);
      let offset = 0;
      modelLayout.forEach((spec, t) => {
        const scale = q8Scales[t]!;
        if (!Number.isFinite(scale) || scale < 0 || scale > MAX_Q8_SCALE) throw new ConclaveError('INVALID_ARGUMENT', `q8 scale of tensor ${t} must be a finite number in [0, ${MAX_Q8_SCALE.toExponential(3)}]`);
        const size = spec.shape.reduce((a, b) => a * b, 1);
        for (let i = offset; i < offset + size; i++) {
          // -128 is never produced (the levels are symmetric): a byte outside ±127 is not an encoder's.
          if (q[i] === -128) throw new ConclaveError('INVALID_ARGUMENT', `q8 level -128 at element ${i}; levels are in [-127, 127]`);
          out[i] = q[i]! * scale;
        }
        offset += size;
      });
      return out;
    }
    case 'topk': {
      const [ix, vs] = tensorLayout;
      if (!(tensor instanceof Uint32Array) || tensorLayout.length !== 2 || ix!.name !== 'indices' || vs!.name !== 'values'
        || ix!.shape.length !== 1 || vs!.shape.length !== 1 || ix!.shape[0] !== vs!.shape[0]) {
        throw new ConclaveError('LAYOUT_MISMATCH', 'a topk update is two uint32 tensors "indices" [k] and "values" [k]');
      }
      const k = ix!.shape[0]!;
      if (k > n || tensor.length !== 2 * k) throw new ConclaveError('LAYOUT_MISMATCH', `a topk update carries at most ${n} coordinates, got ${k}`);
      const values = new Float32Array(tensor.buffer, tensor.byteOffset + 4 * k, k);
      const out = new Float32Array(n);
      let previous = -1;
      for (let j = 0; j < k; j++) {
        const i = tensor[j]!;
        // Strictly increasing: in range, and no coordinate counted twice.
        if (i <= previous || i >= n) throw new ConclaveError('INVALID_ARGUMENT', `topk index ${i} at position ${j} is out of range [0, ${n}) or not above the previous one`);
        const x = values[j]!;
        if (x - x !== 0) throw new ConclaveError('NON_FINITE_VALUE', `topk value at position ${j} is not finite`);
        out[i] = x;
        previous = i;
      }
      return out;
    }
    default: throw new ConclaveError('INVALID_ARGUMENT', `unknown update encoding "${encoding.slice(0, 32)}"`);
  }
}

/** Bytes the encoded tensor takes on the wire (chunk payloads), plus the q8 scales. */
export function encodedBytes(update: EncodedUpdate): number {
  return update.values.byteLength + 4 * update.q8Scales.length;
}
