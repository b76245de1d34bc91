/**
 * The fold of a large update (sum += w·x) split between the coordinator's thread and helper
 * threads, each taking a contiguous range of elements. Every element gets the same single
 * multiply-add as in `axpy`, so the sum is the same bit for bit; the call stays synchronous (the
 * caller computes its own range, then waits on a shared flag for the helpers'), so the aggregation
 * interface and the order in which updates are folded do not change.
 *
 * Why: the fold is memory-bound (read 4 bytes, read and write 8 per parameter) and runs once per
 * update on the event loop after the upload was verified; the site's answer waits for it. Measured
 * with bench/transfer.ts at 64 MiB, one process: 40-50 ms of a 220-300 ms upload.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { axpy } from './kernels.ts';

/** Below this many elements a helper's wake-up (~0.1 ms) is a large share of the fold. */
export const PARALLEL_FOLD_MIN = 1 << 20;
const MAX_HELPERS = 3;
/** A helper that has not answered by then is taken for dead: the fold fails rather than hangs. */
const ANSWER_TIMEOUT_MS = 60_000;
const WORKER_ENTRY = new URL(`./fold-threads-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export interface FoldJob {
  sum: SharedArrayBuffer;
  sumOffset: number;
  x: SharedArrayBuffer;
  xOffset: number;
  xKind: 'f32' | 'f64';
  w: number;
  start: number;
  end: number;
  /** Set to 1 (done) or 2 (failed) by the helper, then notified. */
  flag: Int32Array;
}

class Helper {
  private readonly worker: Worker;
  readonly flag = new Int32Array(new SharedArrayBuffer(4));
  readonly started: Promise<void>;
  ready = false;
  broken = false;

  constructor() {
    this.worker = new Worker(WORKER_ENTRY);
    // Idle helpers must not keep a finished coordinator (or a test) alive.
    this.worker.unref();
    this.started = new Promise((resolve) => this.worker.once('message', () => {
      this.ready = true;
      resolve();
    }));
    this.worker.on('error', () => { this.broken = true; });
    this.worker.on('exit', () => { this.broken = true; });
  }

  post(job: FoldJob): void {
    this.worker.postMessage(job);
  }
}

let helpers: Helper[] | null = null;
/** Folds that were split across threads, for tests and diagnostics. */
export let parallelFolds = 0;

function helperCount(): number {
  return Math.max(0, Math.min(availableParallelism() - 1, MAX_HELPERS));
}

/**
 * Starts the helper threads ahead of the first large fold (a thread's start-up is tens of ms, so
 * it is done when a round of a large model opens, while its sites still train). Until they are
 * up, folds run on the caller's thread alone.
 */
export function prepareFoldThreads(elements: number): void {
  if (elements < PARALLEL_FOLD_MIN || helpers) return;
  helpers = Array.from({ length: helperCount() }, () => new Helper());
}

/** Resolves once the helper threads prepareFoldThreads started are up (tests). */
export async function foldThreadsStarted(): Promise<number> {
  await Promise.all((helpers ?? []).map((h) => h.started));
  return helpers?.length ?? 0;
}

/** sum += w·x over every element: split across the helper threads when both arrays are shared and large, else `axpy`. */
export function fold(sum: Float64Array, x: Float32Array | Float64Array, w: number): void {
  const ready = helpers?.filter((h) => h.ready && !h.broken) ?? [];
  const n = sum.length;
  if (ready.length === 0 || n < PARALLEL_FOLD_MIN || x.length !== n || !(sum.buffer instanceof SharedArrayBuffer) || !(x.buffer instanceof SharedArrayBuffer)) {
    axpy(sum, x, w);
    return;
  }
  parallelFolds++;
  const parts = ready.length + 1;
  const size = Math.ceil(n / parts);
  // The caller takes the first range; helper i the (i+1)-th.
  ready.forEach((helper, i) => {
    Atomics.store(helper.flag, 0, 0);
    helper.post({
      sum: sum.buffer as SharedArrayBuffer, sumOffset: sum.byteOffset, x: x.buffer as SharedArrayBuffer, xOffset: x.byteOffset,
      xKind: x instanceof Float32Array ? 'f32' : 'f64', w, start: Math.min(n, (i + 1) * size), end: Math.min(n, (i + 2) * size), flag: helper.flag,
    });
  });
  axpy(sum.subarray(0, size), x.subarray(0, size), w);
  for (const helper of ready) {
    if (Atomics.wait(helper.flag, 0, 0, ANSWER_TIMEOUT_MS) === 'timed-out') {
      helper.broken = true;
      throw new Error(`a fold thread did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`);
    }
    if (Atomics.load(helper.flag, 0) !== 1) {
      helper.broken = true;
      throw new Error('a fold thread failed');
    }
  }
}
