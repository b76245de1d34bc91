import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { RoundPlanMsg } from '../../protocols/index.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { zooInitialModel } from '../../client-sdk/models/initial-model.ts';
import type { GlobalModel, LocalTrainer, LocalTrainingResult } from '../../client-sdk/training/local-trainer.ts';
import { TfjsTrainer } from '../../client-sdk/training/tfjs-trainer.ts';
import { WorkerPoolTrainer } from '../../client-sdk/training/worker-pool.ts';
import { disposeProx, proxAround, proxTerm, withProxGradient } from '../../client-sdk/training/fedprox.ts';
import { syntheticDigits } from '../helpers/synthetic-digits.ts';

const data = syntheticDigits;

function plan(training: Partial<RoundPlanMsg['training']>, seed = 3): RoundPlanMsg {
  return { seed, training: { localEpochs: 2, batchSize: 16, learningRate: 0.1, optimizer: 'sgd', proxMu: 0, ...training } } as unknown as RoundPlanMsg;
}

function globalModel(): GlobalModel {
  const m = zooInitialModel('mlp', 5);
  return { version: 0, topologyJson: m.topologyJson, layout: m.layout, values: m.values };
}

async function drain(gen: AsyncGenerator<unknown, LocalTrainingResult>): Promise<LocalTrainingResult> {
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
  }
}

const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

const open: LocalTrainer[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.dispose();
});

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm' });
});

describe('FedProx proximal term', () => {
  it('has the value (μ/2)·‖w − w₀‖² and the gradient μ·(w − w₀), by hand on a 2×2 + 2 model', () => {
    const kernel = tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]));
    const bias = tf.variable(tf.tensor1d([0.1, -0.3]));
    const prox = proxAround([kernel, bias], 3)!;
    // Move away from the centre: w − w₀ = kernel: [[1, 0], [-2, 0.5]], bias: [0.25, 0].
    kernel.assign(tf.tensor2d([[1.5, -1], [0, 0.75]]));
    bias.assign(tf.tensor1d([0.35, -0.3]));
    const { value, grads } = tf.variableGrads(() => proxTerm([kernel, bias], prox), [kernel, bias]);
    // (3/2)·(1 + 0 + 4 + 0.25 + 0.0625 + 0) = 7.96875
    expect(value.dataSync()[0]).toBeCloseTo(7.96875, 5);
    expect([...grads[kernel.name]!.dataSync()].map((x) => +x.toFixed(5))).toEqual([3, 0, -6, 1.5]);
    expect([...grads[bias.name]!.dataSync()].map((x) => +x.toFixed(5))).toEqual([0.75, 0]);
    // The worker pool's form: a data gradient plus μ(w − w₀).
    const summed = withProxGradient(tf.tensor1d([1, 1]), bias, prox.center[1]!, prox.mu);
    expect([...summed.dataSync()].map((x) => +x.toFixed(5))).toEqual([1.75, 1]);
    tf.dispose([value, ...Object.values(grads), summed, kernel, bias]);
    disposeProx(prox);
  });

  it('is absent at μ = 0 and refuses a negative or non-finite μ', () => {
    const v = tf.variable(tf.scalar(1));
    expect(proxAround([v], 0)).toBeNull();
    expect(() => proxAround([v], -1)).toThrow(/mu must be/);
    expect(() => proxAround([v], Number.NaN)).toThrow(/mu must be/);
    v.dispose();
  });

  it('shrinks the local update toward 0 as μ grows, on the same data and seed', async () => {
    const ds = data(96, 1);
    const g = globalModel();
    const trainer = new TfjsTrainer(ds, 'wasm');
    open.push(trainer);
    const training = { learningRate: 0.02, localEpochs: 3 };
    const plain = await drain(trainer.train(g, plan({ ...training, proxMu: 0 })));
    const before = tf.memory().numTensors;
    const mild = await drain(trainer.train(g, plan({ ...training, proxMu: 5 })));
    const strong = await drain(trainer.train(g, plan({ ...training, proxMu: 45 })));
    // No proximal centre is left behind after a round.
    expect(tf.memory().numTensors).toBe(before);
    expect(norm(plain.delta)).toBeGreaterThan(1e-2);
    expect(norm(mild.delta)).toBeLessThan(norm(plain.delta));
    // lr·μ = 0.9: every step pulls 90% of the way back to w₀, so the update is a small fraction of FedAvg's.
    expect(norm(strong.delta)).toBeLessThan(0.3 * norm(plain.delta));
    // The reported loss is the data loss alone (the proximal term is not part of it).
    expect(strong.loss).toBeGreaterThan(0);
  }, 60_000);

  it('a 2-worker site trains the same FedProx update as one worker, and evaluates the same', async () => {
    const ds = data(64, 2);
    const g = globalModel();
    const one = new TfjsTrainer(ds, 'wasm');
    const pool = new WorkerPoolTrainer(ds, { workers: 2 });
    open.push(one, pool);
    const a = await drain(one.train(g, plan({ proxMu: 4, localEpochs: 1 })));
    const b = await drain(pool.train(g, plan({ proxMu: 4, localEpochs: 1 })));
    const plain = await drain(one.train(g, plan({ proxMu: 0, localEpochs: 1 })));
    let diff = 0;
    for (let i = 0; i < a.delta.length; i++) diff = Math.max(diff, Math.abs(a.delta[i]! - b.delta[i]!));
    expect(diff).toBeLessThan(1e-4);
    // Federated evaluation through the pool scores the global model as the in-process trainer does.
    const held = data(40, 9);
    const [e1, e2] = [await one.evaluate(g, held), await pool.evaluate(g, held)];
    expect(e2.accuracy).toBe(e1.accuracy);
    expect(e2.loss).toBeCloseTo(e1.loss, 5);
    // And the proximal term changed it (the comparison can fail).
    let changed = 0;
    for (let i = 0; i < a.delta.length; i++) changed = Math.max(changed, Math.abs(a.delta[i]! - plain.delta[i]!));
    expect(changed).toBeGreaterThan(1e-3);
  }, 60_000);
});
