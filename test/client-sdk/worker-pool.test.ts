import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RoundPlanMsg } from '../../protocols/index.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { zooInitialModel } from '../../client-sdk/models/initial-model.ts';
import type { GlobalModel, LocalTrainer, LocalTrainingResult } from '../../client-sdk/training/local-trainer.ts';
import { TfjsTrainer } from '../../client-sdk/training/tfjs-trainer.ts';
import { WorkerPoolTrainer } from '../../client-sdk/training/worker-pool.ts';
import type { TrainProgress } from '../../client-sdk/training/trainer.ts';
import { syntheticDigits } from '../helpers/synthetic-digits.ts';

const data = syntheticDigits;

function plan(training: Partial<RoundPlanMsg['training']>, seed = 3): RoundPlanMsg {
  return { seed, training: { localEpochs: 1, batchSize: 16, learningRate: 0.1, optimizer: 'sgd', ...training } } as unknown as RoundPlanMsg;
}

function globalModel(arch: 'cnn' | 'mlp'): GlobalModel {
  const m = zooInitialModel(arch, 5);
  return { version: 0, topologyJson: m.topologyJson, layout: m.layout, values: m.values };
}

async function drain(gen: AsyncGenerator<unknown, LocalTrainingResult>): Promise<LocalTrainingResult> {
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

const open: LocalTrainer[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.dispose();
});

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm' });
});

describe('WorkerPoolTrainer', () => {
  const ds = data(100, 1);

  it.each([
    ['cnn, full batch, sgd', 'cnn', { batchSize: 100 }],
    ['cnn, batches of 16 (last one short) x 2 epochs, sgd', 'cnn', { batchSize: 16, localEpochs: 2 }],
    ['mlp, batches of 32, adam', 'mlp', { batchSize: 32, optimizer: 'adam', learningRate: 0.001 }],
  ] as const)('a 2-worker site computes the 1-worker update (%s)', async (_label, arch, training) => {
    const g = globalModel(arch);
    const one = new TfjsTrainer(ds, 'wasm');
    const pool = new WorkerPoolTrainer(ds, { workers: 2 });
    open.push(one, pool);
    const a = await drain(one.train(g, plan(training)));
    const b = await drain(pool.train(g, plan(training)));
    expect(b.steps).toBe(a.steps);
    expect(b.numExamples).toBe(a.numExamples);
    expect(b.loss).toBeCloseTo(a.loss, 4);
    expect(b.accuracy).toBeCloseTo(a.accuracy, 6);
    const { diff, scale } = maxAbsDiff(b.delta, a.delta);
    expect(scale).toBeGreaterThan(1e-3);
    // Only the summation order differs (per-part sums, then the pool's sum): float32 rounding.
    expect(diff).toBeLessThan(1e-4 * Math.max(scale, 1));
  }, 60_000);

  it('differs from the 1-worker update when the batches differ (the check can fail)', async () => {
    const g = globalModel('mlp');
    const one = new TfjsTrainer(ds, 'wasm');
    const pool = new WorkerPoolTrainer(ds, { workers: 2 });
    open.push(one, pool);
    const a = await drain(one.train(g, plan({ batchSize: 16 }, 3)));
    const b = await drain(pool.train(g, plan({ batchSize: 16 }, 4)));
    const { diff, scale } = maxAbsDiff(b.delta, a.delta);
    expect(diff).toBeGreaterThan(1e-3 * scale);
  }, 60_000);

  it('keeps the tensor count flat over rounds in every worker', async () => {
    const g = globalModel('cnn');
    const pool = new WorkerPoolTrainer(ds, { workers: 2 });
    open.push(pool);
    const counts: number[][] = [];
    for (let r = 0; r < 3; r++) {
      await drain(pool.train(g, plan({ batchSize: 32, optimizer: 'adam', learningRate: 0.001 }, r)));
      counts.push(pool.lastNumTensors);
    }
    expect(counts[1]).toEqual(counts[0]);
    expect(counts[2]).toEqual(counts[0]);
  }, 60_000);

  it('fails the round, with no update, when a worker is killed mid-round; later rounds refuse', async () => {
    const g = globalModel('cnn');
    const pool = new WorkerPoolTrainer(ds, { workers: 2 });
    open.push(pool);
    await pool.init();
    const gen = pool.train(g, plan({ batchSize: 8, localEpochs: 4 }));
    const first = await gen.next();
    expect(first.done).toBe(false);
    process.kill(pool.pids()[1]!, 'SIGKILL');
    let outcome: unknown = null;
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          outcome = r.value;
          break;
        }
      }
    } catch (e) {
      outcome = e;
    }
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/worker 1 .*exited \(SIGKILL\)/);
    await expect(drain(pool.train(g, plan({})))).rejects.toThrow(/exited/);
  }, 60_000);
});

describe('WorkerPoolTrainer devices', () => {
  it('gives each worker one GPU (CUDA_VISIBLE_DEVICES) when it may load tfjs-node-gpu, none for wasm', async () => {
    const ds = data(10, 1);
    const gpu = new WorkerPoolTrainer(ds, { workers: 2, prefer: 'auto', gpus: ['3', '5'] });
    const wasm = new WorkerPoolTrainer(ds, { workers: 2, prefer: 'wasm' });
    open.push(gpu, wasm);
    const [g, w] = await Promise.all([gpu.init(), wasm.init()]);
    expect(g.reason).toMatch(/worker 0 [^;]*;.*CUDA_VISIBLE_DEVICES=3/);
    expect(g.reason).toMatch(/worker 1 .*CUDA_VISIBLE_DEVICES=5/);
    // Without the optional package every worker says why and falls back to wasm.
    expect(g.backend).toMatch(/^(tensorflow|wasm) x2 workers$/);
    expect(w.reason).not.toMatch(/CUDA_VISIBLE_DEVICES/);
    expect(w.backend).toBe('wasm x2 workers');
    // Per worker: its own process, the backend it runs, the devices it sees.
    expect(w.workers.map((x) => x.index)).toEqual([0, 1]);
    expect(new Set(w.workers.map((x) => x.pid)).size).toBe(2);
    expect(w.workers.every((x) => x.backend === 'wasm' && /^cpu:.*wasm, 1 thread/.test(x.devices[0] ?? ''))).toBe(true);
    for (const [i, x] of g.workers.entries()) {
      expect(x.devices).toEqual(x.backend === 'tensorflow' ? [`gpu:${i === 0 ? 3 : 5}`] : [expect.stringMatching(/^cpu:/)]);
    }
  }, 60_000);

  it('reports each worker\'s share of an epoch and its examples/s', async () => {
    const ds = data(100, 2);
    const pool = new WorkerPoolTrainer(ds, { workers: 2 });
    open.push(pool);
    const epochs: TrainProgress[] = [];
    const gen = pool.train(globalModel('cnn'), plan({ batchSize: 25, localEpochs: 2 }));
    for (let r = await gen.next(); !r.done; r = await gen.next()) if (r.value.kind === 'epoch') epochs.push(r.value);
    expect(epochs).toHaveLength(2);
    for (const e of epochs) {
      expect(e.workers!.map((x) => x.index)).toEqual([0, 1]);
      // Batches of 25 split 12 / 13: every example is counted once, on the worker that computed it.
      expect(e.workers!.map((x) => x.examples)).toEqual([48, 52]);
      expect(e.workers!.every((x) => x.computeS > 0 && x.examplesPerS > 0)).toBe(true);
      expect(e.examplesPerS).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('TfjsTrainer', () => {
  it('keeps tf.memory().numTensors flat over rounds', async () => {
    const { tf } = await selectBackend({ prefer: 'wasm' });
    const g = globalModel('cnn');
    const t = new TfjsTrainer(data(64, 2), 'wasm');
    open.push(t);
    const counts: number[] = [];
    for (let r = 0; r < 3; r++) {
      await drain(t.train(g, plan({ batchSize: 16, optimizer: 'adam', learningRate: 0.001 }, r)));
      counts.push(tf.memory().numTensors);
    }
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
  }, 60_000);
});
