import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type * as tfTypes from '@tensorflow/tfjs';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import {
  CONV2D_BACKPROP_FILTER,
  type Conv2DBackpropFilterKernelAttrs,
} from '../../client-sdk/tfjs/wasm-conv2d-backprop-filter.ts';
import { randomArray } from '../helpers/random-array.ts';

type Tf = typeof import('@tensorflow/tfjs');
type ExplicitPadding = tfTypes.backend_util.ExplicitPadding;

let tf: Tf;

beforeAll(async () => {
  const sel = await selectBackend({ prefer: 'wasm' });
  expect(sel.backend).toBe('wasm');
  tf = sel.tf;
});

interface Case {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outC: number;
  fh: number;
  fw: number;
  strides: [number, number];
  dilations: [number, number];
  pad: Conv2DBackpropFilterKernelAttrs['pad'];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat: 'NHWC' | 'NCHW';
  seed: number;
}

/** Shapes of x and dy for a case, via the same geometry code every backend uses. */
function shapes(c: Case): { x: number[]; dy: number[]; outH: number; outW: number } {
  const x = c.dataFormat === 'NHWC' ? [c.batch, c.inH, c.inW, c.inC] : [c.batch, c.inC, c.inH, c.inW];
  const info = tf.backend_util.computeConv2DInfo(
    x as [number, number, number, number],
    [c.fh, c.fw, c.inC, c.outC],
    c.strides,
    c.dilations,
    c.pad,
    c.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(c.dataFormat),
  );
  const dy = c.dataFormat === 'NHWC'
    ? [c.batch, info.outHeight, info.outWidth, c.outC]
    : [c.batch, c.outC, info.outHeight, info.outWidth];
  return { x, dy, outH: info.outHeight, outW: info.outWidth };
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    extraH: fc.integer({ min: 0, max: 8 }),
    extraW: fc.integer({ min: 0, max: 8 }),
    inC: fc.integer({ min: 1, max: 6 }),
    outC: fc.integer({ min: 1, max: 11 }),
    fh: fc.integer({ min: 1, max: 4 }),
    fw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 3 }),
    dw: fc.integer({ min: 1, max: 3 }),
    padKind: fc.constantFrom('same', 'valid', 'valid', 'same', 'number', 'explicit'),
    padNum: fc.integer({ min: 0, max: 2 }),
    explicit: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
    rounding: fc.constantFrom<'floor' | 'round' | 'ceil' | undefined>(undefined, 'floor', 'round', 'ceil'),
    dataFormat: fc.constantFrom<'NHWC' | 'NCHW'>('NHWC', 'NHWC', 'NCHW'),
    seed: fc.integer(),
  })
  .map((r): Case => {
    if (r.padKind === 'number') {
      // tfjs' numeric-pad output size uses filterHeight/strideHeight for both
      // dimensions (conv_util.computeOutputShape2D), so keep those square.
      r = { ...r, fw: r.fh, sw: r.sh, dw: r.dh };
    }
    // tfjs allows dilations > 1 only with stride 1 (conv2d op assertion).
    const strides: [number, number] = [r.sh, r.sw];
    const dilations: [number, number] = r.sh === 1 && r.sw === 1 ? [r.dh, r.dw] : [1, 1];
    const effH = (r.fh - 1) * dilations[0] + 1;
    const effW = (r.fw - 1) * dilations[1] + 1;
    let pad: Case['pad'];
    let dimRoundingMode: Case['dimRoundingMode'];
    if (r.padKind === 'number') {
      pad = r.padNum;
      dimRoundingMode = r.rounding;
    } else if (r.padKind === 'explicit') {
      const [t, b, l, rt] = r.explicit;
      pad = (r.dataFormat === 'NHWC'
        ? [[0, 0], [t, b], [l, rt], [0, 0]]
        : [[0, 0], [0, 0], [t, b], [l, rt]]) as ExplicitPadding;
    } else {
      pad = r.padKind as 'same' | 'valid';
    }
    const c: Case = {
      batch: r.batch,
      // at least one valid output position for every padding mode
      inH: effH + r.extraH,
      inW: effW + r.extraW,
      inC: r.inC,
      outC: r.outC,
      fh: r.fh,
      fw: r.fw,
      strides,
      dilations,
      pad,
      dataFormat: r.dataFormat,
      seed: r.seed,
    };
    if (dimRoundingMode !== undefined) c.dimRoundingMode = dimRoundingMode;
    return c;
  });

/** The wasm kernel, called through the engine like a gradient would. */
function wasmResult(c: Case, xv: Float32Array, dyv: Float32Array): Float32Array {
  const s = shapes(c);
  expect(tf.getBackend()).toBe('wasm');
  return tf.tidy(() => {
    const x = tf.tensor(xv, s.x, 'float32');
    const dy = tf.tensor(dyv, s.dy, 'float32');
    const attrs: Conv2DBackpropFilterKernelAttrs = {
      strides: c.strides,
      pad: c.pad,
      dataFormat: c.dataFormat,
      filterShape: [c.fh, c.fw, c.inC, c.outC],
      dilations: c.dilations,
    };
    if (c.dimRoundingMode !== undefined) attrs.dimRoundingMode = c.dimRoundingMode;
    const w = tf.engine().runKernel(CONV2D_BACKPROP_FILTER, { x, dy }, attrs as unknown as tfTypes.NamedAttrMap) as tfTypes.Tensor;
    return w.dataSync() as Float32Array;
  });
}

/**
 * Reference: the cpu backend's kernel, called directly on cpu-resident data.
 * The cpu kernel has no dilation support, so for dilations > 1 it is run with
 * the effective (dilated) filter size and the taps are subsampled: the padding
 * and output size computed for the effective filter are identical.
 */
function cpuResult(c: Case, xv: Float32Array, dyv: Float32Array): Float32Array {
  const s = shapes(c);
  const cpu = tf.findBackend('cpu') as tfTypes.KernelBackend & {
    makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tfTypes.TensorInfo;
  };
  const kernel = tf.getKernel(CONV2D_BACKPROP_FILTER, 'cpu');
  const effH = (c.fh - 1) * c.dilations[0] + 1;
  const effW = (c.fw - 1) * c.dilations[1] + 1;
  const x = cpu.makeTensorInfo(s.x, 'float32', xv);
  const dy = cpu.makeTensorInfo(s.dy, 'float32', dyv);
  const attrs: Record<string, unknown> = {
    strides: c.strides,
    pad: c.pad,
    dataFormat: c.dataFormat,
    filterShape: [effH, effW, c.inC, c.outC],
  };
  if (c.dimRoundingMode !== undefined) attrs['dimRoundingMode'] = c.dimRoundingMode;
  const w = kernel.kernelFunc({ inputs: { x, dy }, backend: cpu, attrs: attrs as tfTypes.NamedAttrMap }) as tfTypes.TensorInfo;
  const full = cpu.readSync(w.dataId) as Float32Array;
  for (const t of [x, dy, w]) cpu.disposeData(t.dataId);
  const out = new Float32Array(c.fh * c.fw * c.inC * c.outC);
  const blk = c.inC * c.outC;
  for (let r = 0; r < c.fh; r++) {
    for (let q = 0; q < c.fw; q++) {
      const src = ((r * c.dilations[0]) * effW + q * c.dilations[1]) * blk;
      out.set(full.subarray(src, src + blk), (r * c.fw + q) * blk);
    }
  }
  return out;
}

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  // The kernel sums in float32 (XNNPACK), so an element that is a cancelled sum carries an absolute
  // error of float32 rounding on the summed terms' scale, not its own: the floor follows the
  // largest element (a proxy for that scale), 1e-6 of it, ~10x float32's epsilon.
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (!(Math.abs(a - e) <= 1e-4 * Math.max(Math.abs(e), 1e-2 * maxAbs, 1e-3))) {
      expect.fail(`${label}: element ${i}: wasm ${a} vs cpu ${e}`);
    }
  }
}

describe('wasm Conv2DBackpropFilter', () => {
  it('is registered for the wasm backend', () => {
    expect(tf.getKernel(CONV2D_BACKPROP_FILTER, 'wasm')).toBeDefined();
  });

  it('matches the cpu backend on random shapes, strides, paddings, dilations, layouts', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const s = shapes(c);
        const xv = randomArray(s.x.reduce((a, b) => a * b, 1), c.seed);
        const dyv = randomArray(s.dy.reduce((a, b) => a * b, 1), c.seed ^ 0x5bd1e995);
        expectClose(wasmResult(c, xv, dyv), cpuResult(c, xv, dyv), JSON.stringify(c));
      }),
      { numRuns: 300 },
    );
  });

  it('handles a larger batch (several batch chunks) and both layouts', () => {
    for (const dataFormat of ['NHWC', 'NCHW'] as const) {
      const c: Case = {
        batch: 40, inH: 20, inW: 17, inC: 5, outC: 13, fh: 3, fw: 3,
        strides: [1, 2], dilations: [1, 1], pad: 'same', dataFormat, seed: 7,
      };
      const s = shapes(c);
      const xv = randomArray(s.x.reduce((a, b) => a * b, 1), 1);
      const dyv = randomArray(s.dy.reduce((a, b) => a * b, 1), 2);
      expectClose(wasmResult(c, xv, dyv), cpuResult(c, xv, dyv), dataFormat);
    }
  });

  it('gives the same conv2d filter gradient (tf.grad) as the cpu backend', async () => {
    const xv = randomArray(2 * 9 * 9 * 3, 11);
    const fv = randomArray(3 * 3 * 3 * 4, 12);
    const gradOn = async (backend: 'wasm' | 'cpu'): Promise<Float32Array> => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xv, [2, 9, 9, 3]);
      const f = tf.tensor4d(fv, [3, 3, 3, 4]);
      const g = tf.grad((w: tfTypes.Tensor) => tf.conv2d(x, w as tfTypes.Tensor4D, 2, 'same').square().sum())(f);
      const out = (await g.data()) as Float32Array;
      tf.dispose([x, f, g]);
      return out;
    };
    const cpu = await gradOn('cpu');
    const wasm = await gradOn('wasm');
    expectClose(wasm, cpu, 'tf.grad conv2d');
  });

  it('trains a small CNN for one epoch with model.fit on wasm and the loss decreases', async () => {
    await selectBackend({ prefer: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    const n = 256;
    // Learnable task: which quadrant of a 12x12 image holds a bright 3x3 blob.
    const xs = new Float32Array(n * 12 * 12);
    const labels = new Int32Array(n);
    const noise = randomArray(n * 12 * 12, 3);
    const pos = randomArray(n * 2, 4);
    for (let i = 0; i < n; i++) {
      const q = i % 4;
      labels[i] = q;
      const r0 = (q >> 1) * 6 + Math.floor((pos[2 * i]! + 0.5) * 4);
      const c0 = (q & 1) * 6 + Math.floor((pos[2 * i + 1]! + 0.5) * 4);
      for (let p = 0; p < 144; p++) xs[i * 144 + p] = 0.2 * noise[i * 144 + p]!;
      for (let dr = 0; dr < 3; dr++) for (let dc = 0; dc < 3; dc++) xs[i * 144 + (r0 + dr) * 12 + c0 + dc] = 1;
    }
    const x = tf.tensor4d(xs, [n, 12, 12, 1]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 4);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const lossOf = (): number => {
      const l = model.evaluate(x, y, { batchSize: 64 }) as tfTypes.Scalar;
      const v = l.dataSync()[0]!;
      l.dispose();
      return v;
    };
    const convKernel = model.layers[0]!.getWeights()[0]!;
    const before = lossOf();
    const w0 = convKernel.dataSync().slice();
    const hist = await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const after = lossOf();
    expect(tf.getBackend()).toBe('wasm');
    expect(Number.isFinite(hist.history['loss']![0] as number)).toBe(true);
    expect(after).toBeLessThan(before * 0.9);
    // The conv layer itself was trained (its gradient came from our kernel).
    const w1 = model.layers[0]!.getWeights()[0]!.dataSync();
    let moved = 0;
    for (let i = 0; i < w1.length; i++) moved = Math.max(moved, Math.abs(w1[i]! - w0[i]!));
    expect(moved).toBeGreaterThan(1e-3);
    tf.dispose([x, y]);
    model.dispose();
  });
});
