/**
 * CNN training throughput, tfjs wasm vs cpu backend.
 *
 *   node_modules/.bin/node bench/train-throughput.ts [--examples N] [--epochs E] [--cpu-examples N]
 *
 * Model: conv 3x3x8 relu → maxpool 2 → conv 3x3x16 relu → maxpool 2 → flatten →
 * dense 10 softmax on 28×28×1 random inputs, batch 32, Adam, categorical
 * cross-entropy. Each backend runs in its own child process (the wasm module
 * and the tfjs engine are per-process) and is warmed up before timing. The cpu
 * backend is ~60x slower, so it trains on fewer examples (default 128 x 1
 * epoch vs 1024 x 2 for wasm); throughput is examples/s either way.
 * Also measured: the wasm backend without SIMD, and the Conv2DBackpropFilter
 * kernel alone (wasm JS kernel vs the cpu backend's). Prints one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { selectBackend, type TfBackendName } from '../client-sdk/tfjs/backend.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;
type Tensor1D = import('@tensorflow/tfjs').Tensor1D;

interface WorkerResult {
  config: string;
  backend: TfBackendName;
  reason: string;
  examples: number;
  epochs: number;
  seconds: number;
  examplesPerSec: number;
  firstLoss: number;
  lastLoss: number;
  backpropFilterMs: number;
}

function argNum(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

async function worker(config: string): Promise<WorkerResult> {
  const isCpu = config === 'cpu';
  const examples = isCpu ? argNum('--cpu-examples', 128) : argNum('--examples', 1024);
  const epochs = isCpu ? 1 : argNum('--epochs', 2);
  const prefer: TfBackendName = isCpu ? 'cpu' : 'wasm';
  if (config === 'wasm-nosimd') {
    // Must be set before the wasm backend initialises.
    const tfjs = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    tfjs.env().set('WASM_HAS_SIMD_SUPPORT', false);
  }
  const { tf, backend, reason } = await selectBackend({ prefer });
  const batch = 32;

  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const xs = tf.randomUniform([examples, 28, 28, 1], 0, 1, 'float32', 1);
  const ys = tf.oneHot(tf.randomUniform([examples], 0, 10, 'int32', 2) as Tensor1D, 10);

  // Warm-up (JIT, kernel setup, wasm heap growth).
  const warm = batch * (isCpu ? 1 : 4);
  await model.fit(xs.slice(0, warm), ys.slice(0, warm), { epochs: 1, batchSize: batch, verbose: 0 });
  const t0 = performance.now();
  const h = await model.fit(xs, ys, { epochs, batchSize: batch, verbose: 0, shuffle: false });
  const seconds = (performance.now() - t0) / 1000;
  const loss = h.history['loss'] as number[];

  // The kernel alone, second conv layer's shape: x [32,13,13,8], dy [32,11,11,16].
  const x = tf.randomNormal([batch, 13, 13, 8]);
  const dy = tf.randomNormal([batch, 11, 11, 16]);
  const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 8, 16] };
  const run = (): void => {
    const out = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as Tensor;
    out.dataSync();
    out.dispose();
  };
  for (let i = 0; i < 3; i++) run();
  let reps = 0;
  const k0 = performance.now();
  while (reps < 50 && (reps < 2 || performance.now() - k0 < 1000)) {
    run();
    reps++;
  }
  const backpropFilterMs = (performance.now() - k0) / reps;

  return {
    config,
    backend,
    reason,
    examples,
    epochs,
    seconds: +seconds.toFixed(3),
    examplesPerSec: +((examples * epochs) / seconds).toFixed(1),
    firstLoss: loss[0] ?? NaN,
    lastLoss: loss[loss.length - 1] ?? NaN,
    backpropFilterMs: +backpropFilterMs.toFixed(3),
  };
}

function runChild(config: string): WorkerResult {
  const self = fileURLToPath(import.meta.url);
  const args = [self, '--worker', config, ...process.argv.slice(2)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || line === undefined) {
    throw new Error(`bench worker ${config} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  }
  return JSON.parse(line) as WorkerResult;
}

const wi = process.argv.indexOf('--worker');
if (wi >= 0) {
  const res = await worker(process.argv[wi + 1] ?? 'wasm');
  process.stdout.write(`${JSON.stringify(res)}\n`);
} else {
  const wasm = runChild('wasm');
  const wasmNoSimd = runChild('wasm-nosimd');
  const cpu = runChild('cpu');
  const out = {
    bench: 'cnn-train-throughput',
    model: 'conv3x3x8-relu > maxpool2 > conv3x3x16-relu > maxpool2 > flatten > dense10-softmax',
    input: [28, 28, 1],
    batchSize: 32,
    optimizer: 'adam',
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    wasm,
    wasmNoSimd,
    cpu,
    ratioWasmOverCpu: +(wasm.examplesPerSec / cpu.examplesPerSec).toFixed(2),
    ratioWasmSimdOverNoSimd: +(wasm.examplesPerSec / wasmNoSimd.examplesPerSec).toFixed(2),
    backpropFilterKernelSpeedupOverCpu: +(cpu.backpropFilterMs / wasm.backpropFilterMs).toFixed(2),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
