import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { subset } from '../../client-sdk/data/dataset.ts';
import { loadMnist, trainTestSplit } from '../../client-sdk/data/mnist.ts';
import { buildModel } from '../../client-sdk/models/zoo.ts';
import { getFlatWeights } from '../../client-sdk/models/weights.ts';
import { evaluate, runToCompletion, trainLocal, type TrainProgress } from '../../client-sdk/training/trainer.ts';
import { recommendedHyperParams } from '../../client-sdk/training/defaults.ts';

const { train, test } = trainTestSplit(loadMnist(), { seed: 1 });
const small = subset(train, Array.from({ length: 512 }, (_, i) => i));
const smallTest = subset(test, Array.from({ length: 500 }, (_, i) => i));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('trainLocal', () => {
  it('yields batch and epoch progress, reduces loss, and does not leak tensors', async () => {
    const model = buildModel('mlp', { seed: 3 });
    const before = await evaluate(model, smallTest);
    const tensorsBefore = tf.memory().numTensors;
    const events: TrainProgress[] = [];
    const result = await runToCompletion(
      trainLocal(model, small, { epochs: 3, batchSize: 32, learningRate: 0.1, optimizer: 'sgd', seed: 1 }),
      (p) => events.push(p),
    );
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const batches = events.filter((e) => e.kind === 'batch');
    const epochs = events.filter((e) => e.kind === 'epoch');
    expect(batches.length).toBe(3 * 16);
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(batches.slice(0, 16).map((b) => b.batch)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // Each epoch event follows that epoch's last batch.
    expect(events[16]).toMatchObject({ kind: 'epoch', epoch: 0 });
    expect(epochs[2]!.loss).toBeLessThan(epochs[0]!.loss);
    expect(result).toMatchObject({ numExamples: 512, steps: 48 });
    expect(result.loss).toBe(epochs[2]!.loss);
    expect(result.accuracy).toBeGreaterThan(0.8);
    const after = await evaluate(model, smallTest);
    expect(after.loss).toBeLessThan(before.loss);
    expect(after.accuracy).toBeGreaterThan(0.75);
    expect(after.accuracy).toBeGreaterThan(before.accuracy + 0.3);
    model.dispose();
  });

  it('is deterministic under a seed', async () => {
    const run = async (seed: number): Promise<Float32Array> => {
      const m = buildModel('mlp', { seed: 5 });
      await runToCompletion(trainLocal(m, subset(small, Array.from({ length: 100 }, (_, i) => i)), { epochs: 2, batchSize: 16, learningRate: 0.05, seed }));
      const w = getFlatWeights(m).values;
      m.dispose();
      return w;
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
  });

  it('releases the optimizer when the consumer stops early (adam)', async () => {
    const model = buildModel('mlp', { seed: 3 });
    const tensorsBefore = tf.memory().numTensors;
    let n = 0;
    for await (const p of trainLocal(model, small, { epochs: 5, batchSize: 64, learningRate: 1e-3, optimizer: 'adam', seed: 1 })) {
      if (p.kind === 'batch' && ++n === 3) break;
    }
    expect(n).toBe(3);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    // A full adam run doesn't leak either.
    const r = await runToCompletion(trainLocal(model, small, { epochs: 1, batchSize: 64, learningRate: 1e-3, optimizer: 'adam', seed: 1 }));
    expect(r.steps).toBe(8);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    model.dispose();
  });

  it('trains the CNN (smoke test)', async () => {
    const model = buildModel('cnn', { seed: 1 });
    const tiny = subset(small, Array.from({ length: 32 }, (_, i) => i));
    const tensorsBefore = tf.memory().numTensors;
    const w0 = getFlatWeights(model).values;
    const r = await runToCompletion(trainLocal(model, tiny, { epochs: 1, batchSize: 16, learningRate: 0.1, seed: 1 }));
    expect(r.steps).toBe(2);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(getFlatWeights(model).values).not.toEqual(w0);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    model.dispose();
  });

  it('validates options and data', async () => {
    const model = buildModel('mlp', { seed: 1 });
    const ok = { epochs: 1, batchSize: 8, learningRate: 0.1, seed: 1 };
    await expect(runToCompletion(trainLocal(model, small, { ...ok, epochs: 0 }))).rejects.toThrow(/epochs/);
    await expect(runToCompletion(trainLocal(model, small, { ...ok, batchSize: 0 }))).rejects.toThrow(/batchSize/);
    await expect(runToCompletion(trainLocal(model, small, { ...ok, learningRate: -1 }))).rejects.toThrow(/learningRate/);
    await expect(runToCompletion(trainLocal(model, small, { ...ok, optimizer: 'rmsprop' as never }))).rejects.toThrow(/optimizer/);
    await expect(runToCompletion(trainLocal(model, subset(small, []), ok))).rejects.toThrow(/empty/);
    // Features are stored flat: another shape of as many values is only a view (a model taking MNIST as [784] trains on the digits as they are).
    await expect(runToCompletion(trainLocal(model, { ...small, featureShape: [784] }, ok))).resolves.toMatchObject({ numExamples: small.count });
    const wrong = { ...small, featureShape: [100], features: small.features.subarray(0, small.count * 100) };
    await expect(runToCompletion(trainLocal(model, wrong, ok))).rejects.toThrow(/featureShape \[100\] does not match model input \[28, 28, 1\]/);
    await expect(evaluate(model, { ...small, numClasses: 5 })).rejects.toThrow(/5 classes, model outputs 10/);
    model.dispose();
  });
});

describe('recommendedHyperParams', () => {
  it('has settings for both architectures', () => {
    for (const arch of ['mlp', 'cnn'] as const) {
      const h = recommendedHyperParams(arch);
      expect(h.epochs).toBeGreaterThanOrEqual(1);
      expect(h.batchSize).toBeGreaterThanOrEqual(1);
      expect(h.learningRate).toBeGreaterThan(0);
    }
  });
});
