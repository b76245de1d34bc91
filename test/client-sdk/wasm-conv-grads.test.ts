import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type * as tfTypes from '@tensorflow/tfjs';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { randomArray } from '../helpers/random-array.ts';

type Tf = typeof import('@tensorflow/tfjs');
let tf: Tf;

beforeAll(async () => {
  const sel = await selectBackend({ prefer: 'wasm' });
  expect(sel.backend).toBe('wasm');
  tf = sel.tf;
});

/** float32 sums on both sides: tolerance on the scale of the largest element (see the filter test). */
function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let maxAbs = 0;
  for (const e of expected) maxAbs = Math.max(maxAbs, Math.abs(e));
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (!(Math.abs(actual[i]! - e) <= 1e-4 * Math.max(Math.abs(e), 1e-2 * maxAbs, 1e-3))) {
      expect.fail(`${label}: element ${i}: wasm ${actual[i]} vs cpu ${e}`);
    }
  }
}

interface Geo { b: number; h: number; w: number; ci: number; co: number; k: number; stride: number; pad: 'same' | 'valid' | number }

/** d/dx and d/dW of sum(conv2d(x, W)²) on one backend. */
async function grads(backend: 'wasm' | 'cpu', g: Geo, seed: number): Promise<[Float32Array, Float32Array]> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(randomArray(g.b * g.h * g.w * g.ci, seed), [g.b, g.h, g.w, g.ci]);
  const f = tf.tensor4d(randomArray(g.k * g.k * g.ci * g.co, seed + 1), [g.k, g.k, g.ci, g.co]);
  const [dx, dw] = tf.grads((a: tfTypes.Tensor, w: tfTypes.Tensor) =>
    tf.conv2d(a as tfTypes.Tensor4D, w as tfTypes.Tensor4D, g.stride, g.pad).square().sum())([x, f]);
  const out: [Float32Array, Float32Array] = [(await dx!.data()) as Float32Array, (await dw!.data()) as Float32Array];
  tf.dispose([x, f, dx!, dw!]);
  return out;
}

describe('wasm conv2d gradients through XNNPACK', () => {
  it('match the cpu backend for input and filter gradients (stride 1 via XNNPACK, stride 2 via the fallbacks)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 4 }), extra: fc.integer({ min: 0, max: 6 }), ci: fc.integer({ min: 1, max: 5 }),
          co: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 5 }), stride: fc.constantFrom(1, 1, 2),
          pad: fc.constantFrom<'same' | 'valid' | number>('same', 'valid', 1, 2), seed: fc.integer({ min: 0, max: 1000 }),
        }),
        async (r) => {
          const g: Geo = { b: r.b, h: r.k + r.extra, w: r.k + ((r.extra * 7) % 5), ci: r.ci, co: r.co, k: r.k, stride: r.stride, pad: r.pad };
          const [cx, cw] = await grads('cpu', g, r.seed);
          const [wx, ww] = await grads('wasm', g, r.seed);
          expectClose(wx, cx, `dx ${JSON.stringify(g)}`);
          expectClose(ww, cw, `dW ${JSON.stringify(g)}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('leave no tensors or wasm buffers behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomArray(8 * 12 * 12 * 3, 1), [8, 12, 12, 3]);
    const f = tf.tensor4d(randomArray(5 * 5 * 3 * 4, 2), [5, 5, 3, 4]);
    const step = (): void => {
      const [dx, dw] = tf.grads((a: tfTypes.Tensor, w: tfTypes.Tensor) => tf.conv2d(a as tfTypes.Tensor4D, w as tfTypes.Tensor4D, 1, 'same').sum())([x, f]);
      tf.dispose([dx!, dw!]);
    };
    step();
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose([x, f]);
  });
});
