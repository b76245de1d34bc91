/**
 * A site's local training spread over N worker processes (worker-pool-worker.ts), each on its own
 * core with its own wasm (or other tfjs) backend: synchronous data parallelism with the gradient
 * averaged at every step.
 *
 * Each step's batch is the one a one-worker site would draw (the same seeded permutation per epoch,
 * trainer.ts); the pool splits it into N contiguous parts, every worker returns the gradient of
 * its part's summed loss, and all replicas apply Σ gradients / batch size with their own, identical
 * optimizer. That is the one-worker step up to float summation order, so the site's one update per
 * round means exactly what a one-worker site's means, for any batch size, optimizer and number of
 * epochs (test/client-sdk/worker-pool.test.ts). Weight averaging every k steps would sync less
 * often but changes the update (k local steps on part of the data are not one step on all of it).
 * The price is one synchronisation per step: few bytes, but a process wake-up each, measured at
 * ~8 ms a step on a loaded 2-core machine (BENCHMARKS.md, bench/train-throughput.ts --pool).
 *
 * FedProx: every replica adds the proximal gradient μ(w − w_global) to the averaged data gradient
 * itself (its centre is the round's global model), so the step is the one-worker step there too.
 *
 * Each worker holds the whole site dataset (N copies in memory), which is what lets every step use
 * the one-worker batch. A worker that dies or fails fails the round: `train` throws, no delta is
 * returned, the pool refuses further rounds, and the Participant submits nothing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Dataset } from '../data/dataset.ts';
import { createRng, permutation } from '../data/dataset.ts';
import type { TfBackendPreference } from '../tfjs/backend.ts';
import type { RoundPlanMsg } from '../../protocols/index.ts';
import type { GlobalModel, LocalTrainer, LocalTrainingResult } from './local-trainer.ts';
// Types only: the pool's own process never loads tfjs (its workers do).
import type { EvalResult, TrainProgress } from './trainer.ts';
import type { PoolReply, PoolRequest } from './worker-pool-worker.ts';
import { throughput, type WorkerInfo } from './worker-report.ts';

export interface WorkerPoolOptions {
  workers: number;
  /** The tfjs backend every worker selects; default 'wasm' (one core each). */
  prefer?: TfBackendPreference;
  /**
   * GPUs for the workers, round-robin, as CUDA_VISIBLE_DEVICES ids; used only when a worker may pick
   * the 'tensorflow' backend (prefer 'auto' or 'tensorflow'). Default: the ids listed in this
   * process's CUDA_VISIBLE_DEVICES, else worker i gets GPU i.
   */
  gpus?: string[];
}

interface Worker {
  proc: ChildProcess;
  /** The pending request's resolve and reject: one request at a time per worker. */
  waiting: ((r: PoolReply) => void) | null;
  fail: ((e: Error) => void) | null;
}

// Beside this module: .ts in a checkout (type stripping), .js in the built package (dist/).
const WORKER_ENTRY = fileURLToPath(new URL(`./worker-pool-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export class WorkerPoolTrainer implements LocalTrainer {
  private readonly data: Dataset;
  private readonly opts: { workers: number; prefer: TfBackendPreference; gpus: string[] | undefined };
  private workers: Worker[] = [];
  private failure: Error | null = null;
  /** Tensors alive in each worker after its last round (for leak tests). */
  lastNumTensors: number[] = [];

  constructor(data: Dataset, opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`WorkerPoolTrainer: workers must be an integer >= 1, got ${opts.workers}`);
    if (data.count < 1) throw new RangeError('WorkerPoolTrainer: dataset is empty');
    this.data = data;
    this.opts = { workers: opts.workers, prefer: opts.prefer ?? 'wasm', gpus: opts.gpus };
  }

  /** The workers' process ids (a test kills one to check that a round fails cleanly). */
  pids(): number[] {
    return this.workers.map((w) => w.proc.pid!);
  }

  async init(): Promise<{ backend: string; reason: string; workers: WorkerInfo[] }> {
    if (this.workers.length > 0) throw new Error('WorkerPoolTrainer: already initialised');
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.spawn(i));
    // IPC serializes a typed array's whole buffer: send views of a larger one as copies.
    const own = <T extends Float32Array | Int32Array>(a: T): T => (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T));
    const data = { ...this.data, features: own(this.data.features), labels: own(this.data.labels) };
    const ready = await Promise.all(this.workers.map((w) => this.request(w, { t: 'init', prefer: this.opts.prefer, data })));
    const backends = ready.map((r) => (r.t === 'ready' ? r.backend : '?'));
    const reason = ready.map((r, i) => `worker ${i} (pid ${this.workers[i]!.proc.pid}): ${r.t === 'ready' ? r.reason : '?'}`).join('; ');
    const workers = ready.map((r, i): WorkerInfo => ({
      index: i, pid: r.t === 'ready' ? r.pid : this.workers[i]!.proc.pid!, backend: r.t === 'ready' ? r.backend : '?', devices: r.t === 'ready' ? r.devices : [],
    }));
    return { backend: `${[...new Set(backends)].join('+')} x${this.workers.length} workers`, reason, workers };
  }

  /** One GPU per worker for tfjs-node-gpu: the CUDA runtime reads this once, so it is per process. */
  private workerEnv(index: number): NodeJS.ProcessEnv {
    if (this.opts.prefer !== 'auto' && this.opts.prefer !== 'tensorflow') return process.env;
    const listed = (process.env['CUDA_VISIBLE_DEVICES'] ?? '').split(',').map((d) => d.trim()).filter((d) => d !== '');
    const gpus = this.opts.gpus ?? listed;
    return { ...process.env, CUDA_VISIBLE_DEVICES: gpus.length > 0 ? gpus[index % gpus.length]! : String(index) };
  }

  private spawn(index: number): Worker {
    const proc = fork(WORKER_ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: this.workerEnv(index) });
    const w: Worker = { proc, waiting: null, fail: null };
    proc.on('message', (m: PoolReply) => {
      if (m.t === 'error') return this.fail(new Error(`worker ${index}: ${m.message}`));
      const waiting = w.waiting;
      w.waiting = null;
      w.fail = null;
      waiting?.(m);
    });
    proc.on('exit', (code, signal) => this.fail(new Error(`worker ${index} (pid ${proc.pid}) exited (${signal ?? `code ${code}`}); the site's round is abandoned`)));
    proc.on('error', (e) => this.fail(new Error(`worker ${index}: ${e.message}`)));
    return w;
  }

  /** The first failure poisons the pool: every waiter is rejected and later rounds refuse. */
  private fail(e: Error): void {
    if (this.failure === null) this.failure = e;
    for (const w of this.workers) {
      const f = w.fail;
      w.waiting = null;
      w.fail = null;
      f?.(this.failure);
    }
  }

  private post(w: Worker, m: PoolRequest): void {
    if (this.failure) throw this.failure;
    w.proc.send(m);
  }

  private request(w: Worker, m: PoolRequest): Promise<PoolReply> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      w.waiting = resolve;
      w.fail = reject;
      w.proc.send(m);
    });
  }

  /** Federated evaluation on worker 0 (one pass, no gradients to share). */
  async evaluate(global: GlobalModel, data: Dataset): Promise<EvalResult> {
    if (this.workers.length === 0) await this.init();
    if (this.failure) throw this.failure;
    const own = <T extends Float32Array | Int32Array>(a: T): T => (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T));
    const reply = await this.request(this.workers[0]!, {
      t: 'evaluate', topologyJson: global.topologyJson, layout: global.layout, values: global.values,
      data: { ...data, features: own(data.features), labels: own(data.labels) },
    });
    if (reply.t !== 'evaluated') throw new Error(`WorkerPoolTrainer: expected an evaluation, got '${reply.t}'`);
    return { loss: reply.loss, accuracy: reply.accuracy };
  }

  async *train(global: GlobalModel, plan: RoundPlanMsg): AsyncGenerator<TrainProgress, LocalTrainingResult> {
    if (this.workers.length === 0) await this.init();
    if (this.failure) throw this.failure;
    const { localEpochs: epochs, batchSize, learningRate } = plan.training;
    if (!Number.isInteger(epochs) || epochs < 1 || !Number.isInteger(batchSize) || batchSize < 1 || !(learningRate > 0) || !Number.isFinite(learningRate)) {
      throw new RangeError(`WorkerPoolTrainer: needs integer epochs and batch size >= 1 and a finite learning rate > 0, got ${epochs}, ${batchSize}, ${learningRate}`);
    }
    const optimizer = plan.training.optimizer === 'adam' ? 'adam' : 'sgd';
    for (const w of this.workers) {
      this.post(w, { t: 'round', topologyJson: global.topologyJson, layout: global.layout, values: global.values, optimizer, learningRate, proxMu: plan.training.proxMu ?? 0 });
    }
    const count = this.data.count;
    const n = this.workers.length;
    const rng = createRng(plan.seed);
    let steps = 0;
    let loss = NaN;
    let accuracy = NaN;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = permutation(count, rng);
      let lossSum = 0;
      let correctSum = 0;
      const epochStart = performance.now();
      const examples = new Array<number>(n).fill(0);
      const computeMs = new Array<number>(n).fill(0);
      for (let start = 0; start < count; start += batchSize) {
        const end = Math.min(start + batchSize, count);
        const parts = await Promise.all(this.workers.map((w, i) => {
          const a = start + Math.floor(((end - start) * i) / n);
          const b = start + Math.floor(((end - start) * (i + 1)) / n);
          return this.request(w, { t: 'grad', indices: order.slice(a, b) });
        }));
        let sum: Float32Array | null = null;
        for (const [i, p] of parts.entries()) {
          if (p.t !== 'grad') throw new Error(`WorkerPoolTrainer: expected a gradient, got '${p.t}'`);
          examples[i]! += start + Math.floor(((end - start) * (i + 1)) / n) - (start + Math.floor(((end - start) * i) / n));
          computeMs[i]! += p.computeMs;
          if (sum === null) sum = p.grad;
          else for (let k = 0; k < sum.length; k++) sum[k]! += p.grad[k]!;
          lossSum += p.lossSum;
          correctSum += p.correct;
        }
        const stepLoss = parts.reduce((a, p) => a + (p.t === 'grad' ? p.lossSum : 0), 0) / (end - start);
        if (!Number.isFinite(stepLoss)) throw new Error(`WorkerPoolTrainer: loss became ${stepLoss} at epoch ${epoch}; lower the learning rate`);
        const mean = sum!;
        const inv = 1 / (end - start);
        for (let k = 0; k < mean.length; k++) mean[k]! *= inv;
        for (const w of this.workers) this.post(w, { t: 'apply', grad: mean });
        steps++;
      }
      loss = lossSum / count;
      accuracy = correctSum / count;
      const wallS = (performance.now() - epochStart) / 1000;
      yield {
        kind: 'epoch', epoch, loss, accuracy, examplesPerS: wallS > 0 ? Math.round(count / wallS) : 0,
        workers: examples.map((e, i) => throughput(i, e, computeMs[i]!)),
      };
    }
    // All replicas took the same steps; worker 0's weights are the site's.
    const replies = await Promise.all(this.workers.map((w) => this.request(w, { t: 'weights' })));
    this.lastNumTensors = replies.map((r) => (r.t === 'weights' ? r.numTensors : -1));
    const first = replies[0]!;
    if (first.t !== 'weights') throw new Error(`WorkerPoolTrainer: expected weights, got '${first.t}'`);
    const delta = new Float32Array(first.values.length);
    for (let i = 0; i < delta.length; i++) delta[i] = first.values[i]! - global.values[i]!;
    return { numExamples: count, loss, accuracy, steps, delta };
  }

  dispose(): void {
    const workers = this.workers;
    this.workers = [];
    if (this.failure === null) this.failure = new Error('WorkerPoolTrainer: disposed');
    for (const w of workers) {
      w.proc.removeAllListeners('exit');
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    }
  }
}
