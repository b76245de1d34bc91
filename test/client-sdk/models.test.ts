import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../client-sdk/models/zoo.ts';
import { getFlatWeights, getLayout, layoutSize, setFlatWeights, type TensorSpec } from '../../client-sdk/models/weights.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('buildModel', () => {
  it('builds the MLP and CNN with the expected shapes', () => {
    const mlp = buildModel('mlp', { seed: 1 });
    expect(mlp.outputs[0]!.shape).toEqual([null, 10]);
    expect(mlp.countParams()).toBe(784 * 128 + 128 + 128 * 10 + 10);
    const cnn = buildModel('cnn', { seed: 1 });
    expect(cnn.outputs[0]!.shape).toEqual([null, 10]);
    expect(cnn.countParams()).toBe(5 * 5 * 6 + 6 + 5 * 5 * 6 * 16 + 16 + 256 * 10 + 10);
    const out = tf.tidy(() => cnn.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor);
    expect(out.shape).toEqual([2, 10]);
    const sums = tf.tidy(() => tf.sum(out, -1));
    for (const v of sums.dataSync()) expect(v).toBeCloseTo(1, 5);
    tf.dispose([out, sums]);
    const small = buildModel('mlp', { seed: 1, inputShape: [4], numClasses: 3 });
    expect(small.outputs[0]!.shape).toEqual([null, 3]);
    for (const m of [mlp, cnn, small]) m.dispose();
  });

  it('is deterministic given the seed', () => {
    for (const arch of ['mlp', 'cnn'] as const) {
      const a = buildModel(arch, { seed: 7 });
      const b = buildModel(arch, { seed: 7 });
      const c = buildModel(arch, { seed: 8 });
      const wa = getFlatWeights(a);
      expect(getFlatWeights(b).values).toEqual(wa.values);
      expect(getFlatWeights(c).values).not.toEqual(wa.values);
      expect(wa.values.some((v) => v !== 0)).toBe(true);
      for (const m of [a, b, c]) m.dispose();
    }
  });

  it('rejects bad arguments', () => {
    expect(() => buildModel('resnet' as never, { seed: 1 })).toThrow(/unknown architecture 'resnet'/);
    expect(() => buildModel('mlp', { seed: Number.NaN })).toThrow(/seed/);
    expect(() => buildModel('cnn', { seed: 1, inputShape: [784] })).toThrow(/cnn needs/);
    expect(() => buildModel('mlp', { seed: 1, numClasses: 1 })).toThrow(/numClasses/);
  });
});

describe('flat weights', () => {
  it('layout names are stable across models in the same process', () => {
    const a = buildModel('mlp', { seed: 1 });
    const b = buildModel('mlp', { seed: 2 });
    const la = getLayout(a);
    expect(la).toEqual<TensorSpec[]>([
      { name: 'dense1/kernel', shape: [784, 128], dtype: 'float32' },
      { name: 'dense1/bias', shape: [128], dtype: 'float32' },
      { name: 'output/kernel', shape: [128, 10], dtype: 'float32' },
      { name: 'output/bias', shape: [10], dtype: 'float32' },
    ]);
    expect(getLayout(b)).toEqual(la);
    expect(getLayout(buildModel('cnn', { seed: 1 })).map((t) => t.name)).toEqual([
      'conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'output/kernel', 'output/bias',
    ]);
    a.dispose();
    b.dispose();
  });

  it('round-trips get/set, matches getWeights order and does not leak', () => {
    for (const arch of ['mlp', 'cnn'] as const) {
      const src = buildModel(arch, { seed: 1 });
      const dst = buildModel(arch, { seed: 2 });
      const flat = getFlatWeights(src);
      expect(flat.values.length).toBe(layoutSize(flat.layout));
      expect(flat.values.length).toBe(src.countParams());
      const concat = src.getWeights().flatMap((t) => Array.from(t.dataSync()));
      expect(Array.from(flat.values)).toEqual(concat);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) setFlatWeights(dst, flat.layout, flat.values);
      expect(tf.memory().numTensors).toBe(before);
      expect(getFlatWeights(dst).values).toEqual(flat.values);
      // setFlatWeights copies: mutating the input afterwards does not affect the model.
      const v = flat.values.slice();
      setFlatWeights(dst, flat.layout, v);
      v.fill(123);
      expect(getFlatWeights(dst).values).toEqual(flat.values);
      // Predictions agree after the transfer.
      const [pa, pb] = tf.tidy(() => {
        const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5);
        return [src.predict(x) as tf.Tensor, dst.predict(x) as tf.Tensor];
      });
      expect(Array.from(pb!.dataSync())).toEqual(Array.from(pa!.dataSync()));
      tf.dispose([pa!, pb!]);
      expect(tf.memory().numTensors).toBe(before);
      src.dispose();
      dst.dispose();
    }
  });

  it('rejects mismatched layouts and values with clear errors, leaving the model untouched', () => {
    const mlp = buildModel('mlp', { seed: 1 });
    const cnn = buildModel('cnn', { seed: 1 });
    const m = getFlatWeights(mlp);
    const c = getFlatWeights(cnn);
    const before = tf.memory().numTensors;
    expect(() => setFlatWeights(mlp, c.layout, c.values)).toThrow(/layout does not match model .*expected 4 tensors/);
    const renamed = m.layout.map((t, i) => (i === 1 ? { ...t, name: 'dense9/bias' } : t));
    expect(() => setFlatWeights(mlp, renamed, m.values)).toThrow(/tensor 1: expected name 'dense1\/bias', got 'dense9\/bias'/);
    const reshaped = m.layout.map((t, i) => (i === 0 ? { ...t, shape: [128, 784] } : t));
    expect(() => setFlatWeights(mlp, reshaped, m.values)).toThrow(/expected shape \[784, 128\], got \[128, 784\]/);
    expect(() => setFlatWeights(mlp, m.layout, m.values.subarray(1))).toThrow(/values has 101769 elements, layout needs 101770/);
    const bad = m.values.slice();
    bad[17] = Number.NaN;
    expect(() => setFlatWeights(mlp, m.layout, bad)).toThrow(/values\[17\] is not finite/);
    expect(() => setFlatWeights(mlp, m.layout, Array.from(m.values) as unknown as Float32Array)).toThrow(/Float32Array/);
    expect(getFlatWeights(mlp).values).toEqual(m.values);
    expect(tf.memory().numTensors).toBe(before);
    mlp.dispose();
    cnn.dispose();
  });
});
