/**
 * Local training throughput on the wasm backend, through the Participant's own training loop
 * (`trainLocal`: typed-array batches, one tidy per step), in examples/s on one core.
 *
 *   node_modules/.bin/node bench/train-throughput.ts [--examples N] [--models disco,cnn,mlp]
 *   node_modules/.bin/node bench/train-throughput.ts --pool [--examples N] [--models disco,cnn]
 *
 * Models: DISCO's MNIST CNN (conv 5×5×8 relu → conv 5×5×16 relu → maxpool 2 → dropout → dense 32
 * relu → dropout → dense 10; 55,386 parameters, 28×28×3 inputs, Adam 1e-3, batch 64, as DISCO
 * trains it), and the zoo's `cnn` and `mlp` with their recommended settings (defaults.ts) on
 * 28×28×1. Each (model, kernels, batch) runs in its own child process (the wasm module and the tfjs
 * engine are per-process), warmed up before timing, on random inputs. `kernels: scalar` puts back
 * the conv gradient kernels used before they were routed through XNNPACK (wasm-conv-grads.ts), so
 * before/after come from one run. Prints one JSON object.
 *
 * --pool: one site's round through the LocalTrainer interface, in-process (TfjsTrainer) and as a
 * worker pool (worker-pool.ts) of 1 and 2 workers, each warmed up by one round, timed over the next.
 * Pool of 1 vs in-process is the cost of the per-step gradient exchange; 2 vs 1 the speed-up.
 * --workers 1,2 (implies --pool): the pool sizes to time, alternately (1, 2, then 2, 1: each size's
 * figure is the mean of its two timed rounds, so a load change during the run hits both alike);
 * prints each worker's examples/s (its compute time) and the load average before and after.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { selectBackend } from '../client-sdk/tfjs/backend.ts';
import { useScalarConvGradKernels } from '../client-sdk/tfjs/wasm-conv2d-backprop-filter.ts';
import { buildModel } from '../client-sdk/models/zoo.ts';
import { recommendedHyperParams } from '../client-sdk/training/defaults.ts';
import { runToCompletion, trainLocal, type OptimizerName } from '../client-sdk/training/trainer.ts';
import type { Dataset } from '../client-sdk/data/dataset.ts';
import { zooInitialModel } from '../client-sdk/models/initial-model.ts';
import { getFlatWeights } from '../client-sdk/models/weights.ts';
import type { GlobalModel, LocalTrainer } from '../client-sdk/training/local-trainer.ts';
import { TfjsTrainer } from '../client-sdk/training/tfjs-trainer.ts';
import { WorkerPoolTrainer } from '../client-sdk/training/worker-pool.ts';
import type { RoundPlanMsg } from '../protocols/index.ts';

type ModelName = 'disco' | 'cnn' | 'mlp';
type Kernels = 'xnnpack' | 'scalar';

interface RunResult {
  model: ModelName;
  kernels: Kernels;
  batchSize: number;
  params: number;
  examples: number;
  seconds: number;
  examplesPerSec: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function argNum(name: string, dflt: number): number {
  const v = Number(arg(name));
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

type Tf = Awaited<ReturnType<typeof selectBackend>>['tf'];

/** DISCO's MNIST model (discojs/src/default_tasks/mnist.ts), rebuilt layer for layer. */
function discoModel(tf: Tf): import('@tensorflow/tfjs').LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 3], kernelSize: 5, filters: 8, activation: 'relu' }),
      tf.layers.conv2d({ kernelSize: 5, filters: 16, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

function randomData(count: number, featureShape: number[]): Dataset {
  const size = featureShape.reduce((a, b) => a * b, 1);
  const features = new Float32Array(count * size);
  let s = 12345;
  for (let i = 0; i < features.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    features[i] = s / 2 ** 32;
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % 10;
  return { features, labels, count, featureShape, numClasses: 10 };
}

async function child(model: ModelName, kernels: Kernels, batchArg: number | undefined): Promise<RunResult> {
  const { tf, backend } = await selectBackend({ prefer: 'wasm' });
  if (backend !== 'wasm') throw new Error(`wasm backend unavailable (got ${backend})`);
  if (kernels === 'scalar') useScalarConvGradKernels(tf);
  const m = model === 'disco' ? discoModel(tf) : buildModel(model, { seed: 1, compile: false });
  const hp: { batchSize: number; learningRate: number; optimizer: OptimizerName } = model === 'disco'
    ? { batchSize: 64, learningRate: 1e-3, optimizer: 'adam' }
    : recommendedHyperParams(model);
  const batchSize = batchArg ?? hp.batchSize;
  const examples = argNum('--examples', model === 'mlp' ? 8192 : 2048);
  const data = randomData(examples, model === 'disco' ? [28, 28, 3] : [28, 28, 1]);
  const opts = { epochs: 1, batchSize, learningRate: hp.learningRate, optimizer: hp.optimizer, seed: 1 };
  const warm = { ...data, count: 4 * batchSize, features: data.features.subarray(0, 4 * batchSize * (data.features.length / examples)), labels: data.labels.subarray(0, 4 * batchSize) };
  await runToCompletion(trainLocal(m, warm, opts));
  const t0 = performance.now();
  await runToCompletion(trainLocal(m, data, opts));
  const seconds = (performance.now() - t0) / 1000;
  return { model, kernels, batchSize, params: m.countParams(), examples, seconds: +seconds.toFixed(3), examplesPerSec: +(examples / seconds).toFixed(1) };
}

function runChild(model: ModelName, kernels: Kernels, batch?: number): RunResult {
  const self = fileURLToPath(import.meta.url);
  const args = [self, '--child', model, kernels, String(batch ?? 0), ...process.argv.slice(2)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || line === undefined) throw new Error(`bench child ${model}/${kernels} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as RunResult;
}

async function timedRound(trainer: LocalTrainer, global: GlobalModel, plan: RoundPlanMsg, examples: number, warm = true): Promise<number> {
  if (warm) await drainRound(trainer, global, plan);
  const t0 = performance.now();
  lastWorkers = await drainRound(trainer, global, plan);
  return +(examples / ((performance.now() - t0) / 1000)).toFixed(1);
}

/** The last timed round's per-worker figures (its last epoch event). */
let lastWorkers: unknown = null;

async function drainRound(trainer: LocalTrainer, global: GlobalModel, plan: RoundPlanMsg): Promise<unknown> {
  const gen = trainer.train(global, plan);
  let workers: unknown = null;
  for (let r = await gen.next(); !r.done; r = await gen.next()) if (r.value.kind === 'epoch') workers = r.value.workers ?? null;
  return workers;
}

/** Pool sizes timed alternately (a, b, b, a), each warmed up once; examples/s per size is the mean of its two rounds. */
async function workersBench(models: ModelName[], counts: number[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const model of models) {
    const { global, hp } = await benchModel(model);
    const examples = argNum('--examples', 4096);
    const data = randomData(examples, model === 'disco' ? [28, 28, 3] : [28, 28, 1]);
    const plan = { seed: 1, training: { localEpochs: 1, batchSize: hp.batchSize, learningRate: hp.learningRate, optimizer: hp.optimizer } } as unknown as RoundPlanMsg;
    const pools = new Map(counts.map((n) => [n, new WorkerPoolTrainer(data, { workers: n })]));
    const rates = new Map<number, number[]>();
    const perWorker = new Map<number, unknown[]>();
    try {
      for (const pool of pools.values()) {
        await pool.init();
        await drainRound(pool, global, plan);
      }
      for (const n of [...counts, ...counts.slice().reverse()]) {
        const rate = await timedRound(pools.get(n)!, global, plan, examples, false);
        rates.set(n, [...(rates.get(n) ?? []), rate]);
        perWorker.set(n, [...(perWorker.get(n) ?? []), lastWorkers]);
      }
    } finally {
      for (const pool of pools.values()) pool.dispose();
    }
    const mean = (xs: number[]) => +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
    const examplesPerSec = Object.fromEntries(counts.map((n) => [`workers${n}`, mean(rates.get(n)!)]));
    out.push({
      model, batchSize: hp.batchSize, examples, examplesPerSec,
      runs: Object.fromEntries(counts.map((n) => [`workers${n}`, rates.get(n)])),
      perWorker: Object.fromEntries(counts.map((n) => [`workers${n}`, perWorker.get(n)])),
      ...(counts.length === 2 ? { speedup: +(mean(rates.get(counts[1]!)!) / mean(rates.get(counts[0]!)!)).toFixed(2) } : {}),
    });
  }
  return out;
}

async function benchModel(model: ModelName): Promise<{ global: GlobalModel; hp: { batchSize: number; learningRate: number; optimizer: OptimizerName } }> {
  if (model === 'disco') {
    const { tf } = await selectBackend({ prefer: 'wasm' });
    const m = discoModel(tf);
    const { layout, values } = getFlatWeights(m);
    const topologyJson = JSON.stringify(m.toJSON(undefined, false));
    m.dispose();
    return { global: { version: 0, topologyJson, layout, values }, hp: { batchSize: 64, learningRate: 1e-3, optimizer: 'adam' } };
  }
  return { global: { version: 0, ...zooInitialModel(model, 1) }, hp: recommendedHyperParams(model) };
}

async function poolBench(models: ModelName[]): Promise<unknown[]> {
  const { tf } = await selectBackend({ prefer: 'wasm' });
  const out: unknown[] = [];
  for (const model of models) {
    let global: GlobalModel;
    let hp: { batchSize: number; learningRate: number; optimizer: OptimizerName };
    if (model === 'disco') {
      // Dropout draws differ per process; the pool still trains the same model, as DISCO would.
      const m = discoModel(tf);
      const { layout, values } = getFlatWeights(m);
      global = { version: 0, topologyJson: JSON.stringify(m.toJSON(undefined, false)), layout, values };
      m.dispose();
      hp = { batchSize: 64, learningRate: 1e-3, optimizer: 'adam' };
    } else {
      const a = zooInitialModel(model, 1);
      global = { version: 0, ...a };
      hp = recommendedHyperParams(model);
    }
    const examples = argNum('--examples', 4096);
    const data = randomData(examples, model === 'disco' ? [28, 28, 3] : [28, 28, 1]);
    const plan = { seed: 1, training: { localEpochs: 1, batchSize: hp.batchSize, learningRate: hp.learningRate, optimizer: hp.optimizer } } as unknown as RoundPlanMsg;
    const rates: Record<string, number> = {};
    for (const [name, make] of [
      ['inProcess', () => new TfjsTrainer(data, 'wasm')],
      ['pool1', () => new WorkerPoolTrainer(data, { workers: 1 })],
      ['pool2', () => new WorkerPoolTrainer(data, { workers: 2 })],
    ] as const) {
      const t: LocalTrainer = make();
      await t.init();
      try {
        rates[name] = await timedRound(t, global, plan, examples);
      } finally {
        t.dispose();
      }
    }
    out.push({
      model, batchSize: hp.batchSize, examples, examplesPerSec: rates,
      speedup1to2Workers: +(rates['pool2']! / rates['pool1']!).toFixed(2),
      speedupInProcessTo2Workers: +(rates['pool2']! / rates['inProcess']!).toFixed(2),
    });
  }
  return out;
}

const ci = process.argv.indexOf('--child');
if (arg('--workers') !== undefined) {
  const counts = arg('--workers')!.split(',').map(Number);
  if (counts.length === 0 || !counts.every((n) => Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error('--workers takes a list of worker counts, e.g. 1,2');
  const models = (arg('--models') ?? 'disco,cnn').split(',') as ModelName[];
  const loadBefore = os.loadavg().map((x) => +x.toFixed(2));
  const results = await workersBench(models, counts);
  process.stdout.write(`${JSON.stringify({
    bench: 'train-throughput --workers', backend: 'wasm (1 thread each)', node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverage1m5m15m: { before: loadBefore, after: os.loadavg().map((x) => +x.toFixed(2)) }, results,
  }, null, 2)}\n`);
} else if (process.argv.includes('--pool')) {
  const models = (arg('--models') ?? 'disco,cnn').split(',') as ModelName[];
  const pool = await poolBench(models);
  process.stdout.write(`${JSON.stringify({ bench: 'train-throughput --pool', backend: 'wasm (1 thread each)', node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', pool }, null, 2)}\n`);
} else if (ci >= 0) {
  const batch = Number(process.argv[ci + 3]);
  const res = await child(process.argv[ci + 1] as ModelName, process.argv[ci + 2] as Kernels, batch > 0 ? batch : undefined);
  process.stdout.write(`${JSON.stringify(res)}\n`);
} else {
  const models = (arg('--models') ?? 'disco,cnn,mlp').split(',') as ModelName[];
  const runs: RunResult[] = [];
  for (const model of models) {
    const after = runChild(model, 'xnnpack');
    const before = model === 'mlp' ? after : runChild(model, 'scalar');
    runs.push(after);
    if (before !== after) runs.push(before);
    // Larger batches amortise the per-step overhead (kernel dispatch, optimizer update).
    if (model !== 'mlp') for (const b of [after.batchSize * 2, after.batchSize * 4]) runs.push(runChild(model, 'xnnpack', b));
  }
  const out = {
    bench: 'train-throughput',
    backend: 'wasm (1 thread, SIMD)',
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    runs,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
