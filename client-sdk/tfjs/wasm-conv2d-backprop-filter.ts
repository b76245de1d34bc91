/**
 * `Conv2DBackpropFilter` for the tfjs WebAssembly backend.
 *
 * @tensorflow/tfjs-backend-wasm 4.22 ships `Conv2D` and `Conv2DBackpropInput`
 * but not `Conv2DBackpropFilter`, so the gradient of a Conv2D layer w.r.t. its
 * kernel (i.e. every `model.fit` of a CNN) throws on the wasm backend. This
 * module supplies that kernel as a JS-side kernel that works directly on
 * views of the wasm heap (the same way the backend's own JS kernels obtain
 * tensor memory: `backend.makeOutput` + `backend.typedArrayFromHeap`).
 *
 * Semantics follow the cpu backend's kernel (tfjs-backend-cpu
 * `Conv2DBackpropFilter`): attrs `strides`, `pad` ('same' | 'valid' | number
 * | explicit), `dataFormat` ('NHWC' | 'NCHW'), `dimRoundingMode` and
 * `filterShape`. In addition an optional non-standard `dilations` attr is
 * honoured (tfjs-core never sends it, because its conv2d gradient rejects
 * dilations > 1, but the kernel is correct for it).
 *
 *   dW[wR, wC, d1, d2] = sum_{b, yR, yC} x[b, xR, xC, d1] * dy[b, yR, yC, d2]
 *   with xR = yR * strideH + wR * dilationH - padTop (likewise for columns).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { makeXnnConv2DBackpropFilterKernel, makeXnnConv2DBackpropInputKernel } from './wasm-conv-grads.ts';

type Tf = typeof import('@tensorflow/tfjs');
type TensorInfo = tfTypes.TensorInfo;
type Pad = tfTypes.Conv2DBackpropFilterAttrs['pad'];

export const CONV2D_BACKPROP_FILTER = 'Conv2DBackpropFilter';

/** Everything the inner loops need; strides are element strides. */
export interface Conv2DBackpropFilterGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
  /** true for NHWC (channelsLast), false for NCHW. */
  channelsLast: boolean;
}

/** Attributes accepted by the kernel: the standard ones plus optional `dilations`. */
export interface Conv2DBackpropFilterKernelAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  dilations?: [number, number] | number;
}

/** Float64 accumulator for dW, reused across calls (dW is small). */
let scratch = new Float64Array(0);

/** Batch-chunk budget for the x + dy bytes one tile sweeps. */
const CHUNK_BYTES = 384 * 1024;

/**
 * Per-tap loop state shared by the tile functions (one object per call,
 * mutated per filter tap, so the tiles see a single monomorphic shape).
 */
interface TapLoop {
  /** batch chunk [bStart, bEnd) */
  bStart: number;
  bEnd: number;
  xBatch: number;
  dyBatch: number;
  yR0: number;
  yR1: number;
  nC: number;
  /** x offset of output row yR is (yR * xRowStep + xRow0) */
  xRowStep: number;
  xRow0: number;
  dyRowS: number;
  /** x / dy advance per output column */
  xColStep: number;
  dyColS: number;
  xChS: number;
  dyChS: number;
}

/*
 * Register tiles: each computes a (d1 x d2) block of dW for one filter tap as
 * dot products over all (b, yR, yC), keeping the block's sums in locals
 * (float64, like the cpu backend's accumulator) and writing them once.
 * xs / ds are the offsets of (b = 0, first valid output column) for the
 * block's first input / output channel; o is the offset in the float64
 * accumulator (HWIO), outC its row length. Sums are added to acc.
 */
function tile2x4(L: TapLoop, x: Float32Array, dy: Float32Array, acc: Float64Array, xs: number, ds: number, o: number, outC: number): void {
  const { bStart, bEnd, xBatch, dyBatch, yR0, yR1, nC, xRowStep, xRow0, dyRowS, xColStep, dyColS, xChS, dyChS } = L;
  const dy2 = 2 * dyChS, dy3 = 3 * dyChS;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  for (let b = bStart; b < bEnd; ++b) {
    const xb = xs + b * xBatch;
    const db = ds + b * dyBatch;
    for (let yR = yR0; yR <= yR1; ++yR) {
      let xi = xb + yR * xRowStep + xRow0;
      let di = db + yR * dyRowS;
      const dEnd = di + nC * dyColS;
      for (; di < dEnd; di += dyColS) {
        const u = x[xi]!, v = x[xi + xChS]!;
        const e0 = dy[di]!, e1 = dy[di + dyChS]!, e2 = dy[di + dy2]!, e3 = dy[di + dy3]!;
        a0 += u * e0; a1 += u * e1; a2 += u * e2; a3 += u * e3;
        b0 += v * e0; b1 += v * e1; b2 += v * e2; b3 += v * e3;
        xi += xColStep;
      }
    }
  }
  acc[o] = acc[o]! + a0; acc[o + 1] = acc[o + 1]! + a1; acc[o + 2] = acc[o + 2]! + a2; acc[o + 3] = acc[o + 3]! + a3;
  o += outC;
  acc[o] = acc[o]! + b0; acc[o + 1] = acc[o + 1]! + b1; acc[o + 2] = acc[o + 2]! + b2; acc[o + 3] = acc[o + 3]! + b3;
}

function tile1x8(L: TapLoop, x: Float32Array, dy: Float32Array, acc: Float64Array, xs: number, ds: number, o: number): void {
  const { bStart, bEnd, xBatch, dyBatch, yR0, yR1, nC, xRowStep, xRow0, dyRowS, xColStep, dyColS, dyChS } = L;
  const s2 = 2 * dyChS, s3 = 3 * dyChS, s4 = 4 * dyChS, s5 = 5 * dyChS, s6 = 6 * dyChS, s7 = 7 * dyChS;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  for (let b = bStart; b < bEnd; ++b) {
    const xb = xs + b * xBatch;
    const db = ds + b * dyBatch;
    for (let yR = yR0; yR <= yR1; ++yR) {
      let xi = xb + yR * xRowStep + xRow0;
      let di = db + yR * dyRowS;
      const dEnd = di + nC * dyColS;
      for (; di < dEnd; di += dyColS) {
        const u = x[xi]!;
        a0 += u * dy[di]!; a1 += u * dy[di + dyChS]!; a2 += u * dy[di + s2]!; a3 += u * dy[di + s3]!;
        a4 += u * dy[di + s4]!; a5 += u * dy[di + s5]!; a6 += u * dy[di + s6]!; a7 += u * dy[di + s7]!;
        xi += xColStep;
      }
    }
  }
  acc[o] = acc[o]! + a0; acc[o + 1] = acc[o + 1]! + a1; acc[o + 2] = acc[o + 2]! + a2; acc[o + 3] = acc[o + 3]! + a3;
  acc[o + 4] = acc[o + 4]! + a4; acc[o + 5] = acc[o + 5]! + a5; acc[o + 6] = acc[o + 6]! + a6; acc[o + 7] = acc[o + 7]! + a7;
}

function tile1x4(L: TapLoop, x: Float32Array, dy: Float32Array, acc: Float64Array, xs: number, ds: number, o: number): void {
  const { bStart, bEnd, xBatch, dyBatch, yR0, yR1, nC, xRowStep, xRow0, dyRowS, xColStep, dyColS, dyChS } = L;
  const s2 = 2 * dyChS, s3 = 3 * dyChS;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let b = bStart; b < bEnd; ++b) {
    const xb = xs + b * xBatch;
    const db = ds + b * dyBatch;
    for (let yR = yR0; yR <= yR1; ++yR) {
      let xi = xb + yR * xRowStep + xRow0;
      let di = db + yR * dyRowS;
      const dEnd = di + nC * dyColS;
      for (; di < dEnd; di += dyColS) {
        const u = x[xi]!;
        a0 += u * dy[di]!; a1 += u * dy[di + dyChS]!; a2 += u * dy[di + s2]!; a3 += u * dy[di + s3]!;
        xi += xColStep;
      }
    }
  }
  acc[o] = acc[o]! + a0; acc[o + 1] = acc[o + 1]! + a1; acc[o + 2] = acc[o + 2]! + a2; acc[o + 3] = acc[o + 3]! + a3;
}

function tile1x1(L: TapLoop, x: Float32Array, dy: Float32Array, acc: Float64Array, xs: number, ds: number, o: number): void {
  const { bStart, bEnd, xBatch, dyBatch, yR0, yR1, nC, xRowStep, xRow0, dyRowS, xColStep, dyColS } = L;
  let a0 = 0;
  for (let b = bStart; b < bEnd; ++b) {
    const xb = xs + b * xBatch;
    const db = ds + b * dyBatch;
    for (let yR = yR0; yR <= yR1; ++yR) {
      let xi = xb + yR * xRowStep + xRow0;
      let di = db + yR * dyRowS;
      const dEnd = di + nC * dyColS;
      for (; di < dEnd; di += dyColS) {
        a0 += x[xi]! * dy[di]!;
        xi += xColStep;
      }
    }
  }
  acc[o] = acc[o]! + a0;
}

/**
 * Computes the filter gradient into `out` (HWIO layout, length
 * filterHeight * filterWidth * inChannels * outChannels; every element is
 * written). Pure function over flat arrays; exported for testing and reuse.
 *
 * Loop order: per filter tap (wR, wC) the valid output-row/column ranges are
 * computed once (no bounds checks inside), then the tap's inChannels x
 * outChannels block is covered by register tiles (2x4, then 1x8 / 1x4 / 1x1
 * for the remainders), each a dot product over a batch chunk (sized so its x
 * and dy stay in L2) with its sums in float64 locals: no allocation, no
 * read-modify-write in the hot loop, and the innermost loop walks both x and
 * dy with constant strides (unit stride along columns for NCHW, along
 * channels within a tile for NHWC).
 */
export function conv2dBackpropFilterCompute(
  g: Conv2DBackpropFilterGeometry,
  x: Float32Array,
  dy: Float32Array,
  out: Float32Array,
): void {
  const {
    batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels,
    filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth,
    padTop, padLeft, channelsLast,
  } = g;
  const size = filterHeight * filterWidth * inChannels * outChannels;
  if (out.length < size) throw new Error(`conv2dBackpropFilter: output has ${out.length} elements, need ${size}`);
  if (x.length < batchSize * inHeight * inWidth * inChannels || dy.length < batchSize * outHeight * outWidth * outChannels) {
    throw new Error('conv2dBackpropFilter: x or dy is smaller than the geometry says');
  }
  if (scratch.length < size) scratch = new Float64Array(Math.max(size, 2 * scratch.length));
  const acc = scratch;
  acc.fill(0, 0, size); // taps whose receptive field lies entirely in the padding stay 0

  // Element strides of x ([b, h, w, c] or [b, c, h, w]) and dy.
  const xRowS = channelsLast ? inWidth * inChannels : inWidth;
  const xColS = channelsLast ? inChannels : 1;
  const xBatch = inHeight * inWidth * inChannels;
  const dyBatch = outHeight * outWidth * outChannels;
  const L: TapLoop = {
    bStart: 0,
    bEnd: 0,
    xBatch,
    dyBatch,
    yR0: 0,
    yR1: -1,
    nC: 0,
    xRowStep: strideHeight * xRowS,
    xRow0: 0,
    dyRowS: channelsLast ? outWidth * outChannels : outWidth,
    xColStep: strideWidth * xColS,
    dyColS: channelsLast ? outChannels : 1,
    xChS: channelsLast ? 1 : inHeight * inWidth,
    dyChS: channelsLast ? 1 : outHeight * outWidth,
  };
  const { xChS, dyChS } = L;
  const inC2 = inChannels - (inChannels % 2);
  const outC4 = outChannels - (outChannels % 4);
  const outC8 = outChannels - (outChannels % 8);
  // Every tile sweeps the chunk's x and dy once: keep a chunk within ~L2.
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / (4 * (xBatch + dyBatch))));

  for (let bStart = 0; bStart < batchSize; bStart += chunk) {
    L.bStart = bStart;
    L.bEnd = Math.min(batchSize, bStart + chunk);
    for (let wR = 0; wR < filterHeight; ++wR) {
      const rowOff = wR * dilationHeight - padTop; // xR = yR * strideH + rowOff
      const yR0 = Math.max(0, Math.ceil(-rowOff / strideHeight));
      const yR1 = Math.min(outHeight - 1, Math.floor((inHeight - 1 - rowOff) / strideHeight));
      if (yR0 > yR1) continue;
      for (let wC = 0; wC < filterWidth; ++wC) {
        const colOff = wC * dilationWidth - padLeft; // xC = yC * strideW + colOff
        const yC0 = Math.max(0, Math.ceil(-colOff / strideWidth));
        const yC1 = Math.min(outWidth - 1, Math.floor((inWidth - 1 - colOff) / strideWidth));
        if (yC0 > yC1) continue;
        L.yR0 = yR0;
        L.yR1 = yR1;
        L.nC = yC1 - yC0 + 1;
        L.xRow0 = rowOff * xRowS;
        const xColStart = (yC0 * strideWidth + colOff) * xColS;
        const dyColStart = yC0 * L.dyColS;
        const tapBase = (wR * filterWidth + wC) * inChannels;
        let d1 = 0;
        for (; d1 < inC2; d1 += 2) {
          const xs = d1 * xChS + xColStart;
          const o = (tapBase + d1) * outChannels;
          let d2 = 0;
          for (; d2 < outC4; d2 += 4) tile2x4(L, x, dy, acc, xs, d2 * dyChS + dyColStart, o + d2, outChannels);
          for (; d2 < outChannels; ++d2) {
            const ds = d2 * dyChS + dyColStart;
            tile1x1(L, x, dy, acc, xs, ds, o + d2);
            tile1x1(L, x, dy, acc, xs + xChS, ds, o + outChannels + d2);
          }
        }
        for (; d1 < inChannels; ++d1) {
          const xs = d1 * xChS + xColStart;
          const o = (tapBase + d1) * outChannels;
          let d2 = 0;
          for (; d2 < outC8; d2 += 8) tile1x8(L, x, dy, acc, xs, d2 * dyChS + dyColStart, o + d2);
          for (; d2 < outC4; d2 += 4) tile1x4(L, x, dy, acc, xs, d2 * dyChS + dyColStart, o + d2);
          for (; d2 < outChannels; ++d2) tile1x1(L, x, dy, acc, xs, d2 * dyChS + dyColStart, o + d2);
        }
      }
    }
  }
  for (let i = 0; i < size; ++i) out[i] = acc[i]!;
}

/** Geometry via tfjs' own `computeConv2DInfo` so padding/rounding match every other backend. */
export function conv2dBackpropFilterGeometry(
  tf: Tf,
  xShape: readonly number[],
  dyShape: readonly number[],
  attrs: Conv2DBackpropFilterKernelAttrs,
): Conv2DBackpropFilterGeometry {
  if (xShape.length !== 4 || dyShape.length !== 4) {
    throw new Error(`Conv2DBackpropFilter: x and dy must be rank 4, got ${xShape.length} and ${dyShape.length}`);
  }
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  const channelsLast = info.dataFormat === 'channelsLast';
  const expectDy = channelsLast
    ? [info.batchSize, info.outHeight, info.outWidth, info.outChannels]
    : [info.batchSize, info.outChannels, info.outHeight, info.outWidth];
  if (expectDy.some((d, i) => d !== dyShape[i])) {
    throw new Error(`Conv2DBackpropFilter: dy shape [${dyShape.join(',')}] does not match expected [${expectDy.join(',')}]`);
  }
  return {
    batchSize: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    channelsLast,
  };
}

function heapF32(backend: BackendWasm, t: TensorInfo): Float32Array {
  const v = backend.typedArrayFromHeap(t);
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/**
 * Builds the kernel config for the given tfjs namespace (the same
 * @tensorflow/tfjs-core instance the wasm backend registered with).
 */
export function makeWasmConv2DBackpropFilterKernel(tf: Tf): tfTypes.KernelConfig {
  const kernelFunc = (args: {
    inputs: { x?: TensorInfo; dy?: TensorInfo };
    backend: BackendWasm;
    attrs: Conv2DBackpropFilterKernelAttrs;
  }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { x, dy } = inputs;
    if (x === undefined || dy === undefined) throw new Error('Conv2DBackpropFilter: inputs x and dy are required');
    const g = conv2dBackpropFilterGeometry(tf, x.shape, dy.shape, attrs);
    const filterShape = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
    // Allocate first: malloc may grow (and detach) the wasm heap, so take the
    // heap views only afterwards.
    const out = backend.makeOutput(filterShape, 'float32');
    if (g.filterHeight * g.filterWidth * g.inChannels * g.outChannels === 0) return out;
    const outVals = backend.typedArrayFromHeap(out) as Float32Array;
    conv2dBackpropFilterCompute(g, heapF32(backend, x), heapF32(backend, dy), outVals);
    return out;
  };
  return {
    kernelName: CONV2D_BACKPROP_FILTER,
    backendName: 'wasm',
    kernelFunc: kernelFunc as unknown as tfTypes.KernelFunc,
  };
}

/** The backend's own Conv2DBackpropInput, kept for `useScalarConvGradKernels`. */
let backendInputKernel: tfTypes.KernelConfig | undefined;

/**
 * Puts back the scalar gradient kernels (the JS Conv2DBackpropFilter, the backend's C++
 * Conv2DBackpropInput) in place of the XNNPACK routes, so that a benchmark can measure both in one
 * run. Call after `selectBackend` has initialised wasm; not for training.
 */
export function useScalarConvGradKernels(tf: Tf): void {
  if (backendInputKernel === undefined) throw new Error('useScalarConvGradKernels: the wasm training kernels are not registered');
  tf.unregisterKernel(CONV2D_BACKPROP_FILTER, 'wasm');
  tf.registerKernel(makeWasmConv2DBackpropFilterKernel(tf));
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(backendInputKernel);
}

/** Marks kernels this module registered, so a second call leaves them alone. */
const OURS = Symbol.for('conclave.wasmTrainingKernel');

/**
 * Registers the kernels the wasm backend lacks or runs slowly for CNN training: Conv2DBackpropFilter
 * (absent from the backend) and Conv2DBackpropInput (present, a scalar loop), both routed to
 * XNNPACK's forward convolution where the geometry allows (wasm-conv-grads.ts), with the JS kernel
 * above and the backend's own as their fallbacks. Idempotent; a Conv2DBackpropFilter the backend
 * already has (e.g. a future tfjs-backend-wasm release) is left alone. Returns the names it
 * registered.
 */
export function registerWasmTrainingKernels(tf: Tf): string[] {
  const registered: string[] = [];
  if (tf.getKernel(CONV2D_BACKPROP_FILTER, 'wasm') === undefined) {
    const js = makeWasmConv2DBackpropFilterKernel(tf);
    const k = makeXnnConv2DBackpropFilterKernel(tf, js.kernelFunc);
    tf.registerKernel({ ...k, [OURS]: true } as tfTypes.KernelConfig);
    registered.push(CONV2D_BACKPROP_FILTER);
  }
  const input = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (input !== undefined && !(OURS in input)) {
    backendInputKernel = input;
    const k = makeXnnConv2DBackpropInputKernel(tf, input.kernelFunc);
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    // The fallback is a cwrap'd C function bound by the original's setupFunc, which tfjs runs for
    // registered kernels when the backend initialises (after this call).
    tf.registerKernel({ ...k, ...(input.setupFunc ? { setupFunc: input.setupFunc } : {}), [OURS]: true } as tfTypes.KernelConfig);
    registered.push('Conv2DBackpropInput');
  }
  return registered;
}
