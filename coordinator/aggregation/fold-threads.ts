/**
 * The fold of a large update (sum += w·x) shared between the coordinator's thread and helper
 * threads: the elements are cut into blocks, and each thread claims the next unclaimed block from
 * a shared counter until none is left, so a helper that is slow to wake (two cores, busy verifier
 * threads) costs nothing: the caller folds what the helpers do not get to. Every element gets the
 * same single multiply-add as in `axpy`, so the sum is the same bit for bit whoever folds which
 * block; the call stays synchronous (the caller then waits on the shared counter for blocks still
 * in a helper's hands), so the aggregation interface and the order of folds do not change.
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
  length: number;
  /** [next block to claim, blocks folded, blocks folded by helpers, failed (1)]. */
  control: Int32Array;
}

/** 2^18 elements: ~0.5 ms of folding, so the caller waits at most about that for a helper's last block. */
export const FOLD_BLOCK = 1 << 18;
export const NEXT = 0;
export const DONE = 1;
export const BY_HELPERS = 2;
export const FAILED = 3;

/** Claims blocks until none is left (a helper counts its own in BY_HELPERS before DONE, so the count is whole once DONE is). */
export function foldBlocks(sum: Float64Array, x: Float32Array | Float64Array, w: number, control: Int32Array, helper: boolean): void {
  const blocks = Math.ceil(sum.length / FOLD_BLOCK);
  for (;;) {
    const block = Atomics.add(control, NEXT, 1);
    if (block >= blocks) return;
    const start = block * FOLD_BLOCK;
    const end = Math.min(sum.length, start + FOLD_BLOCK);
    axpy(sum.subarray(start, end), x.subarray(start, end), w);
    if (helper) Atomics.add(control, BY_HELPERS, 1);
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}

class Helper {
  private readonly worker: Worker;
  readonly started: Promise<void>;
  broken = false;

  constructor() {
    this.worker = new Worker(WORKER_ENTRY);
    // Idle helpers must not keep a finished coordinator (or a test) alive.
    this.worker.unref();
    this.started = new Promise((resolve) => this.worker.once('message', () => resolve()));
    this.worker.on('error', () => { this.broken = true; });
    this.worker.on('exit', () => { this.broken = true; });
  }

  post(job: FoldJob): void {
    this.worker.postMessage(job);
  }

  stop(): void {
    this.broken = true;
    void this.worker.terminate();
  }
}

let helpers: Helper[] | null = null;
/** Blocks the helper threads folded, over all folds (tests and diagnostics). */
export let helperBlocks = 0;
/** Set by the process owner (`conclave coordinator start --fold-threads N`); null: the default. */
let configuredHelpers: number | null = null;
export const MAX_FOLD_THREADS = 64;

function helperCount(): number {
  return configuredHelpers ?? Math.max(0, Math.min(availableParallelism() - 1, MAX_HELPERS));
}

/**
 * How many helper threads large folds use: by default cores - 1, at most 3; 0 folds on the calling
 * thread alone (a coordinator sharing its machine); null restores the default. Helpers already
 * started with another count are stopped; the next large round starts the new number.
 */
export function setFoldThreads(count: number | null): void {
  if (count !== null && !(Number.isInteger(count) && count >= 0 && count <= MAX_FOLD_THREADS)) {
    throw new RangeError(`fold threads must be an integer in [0, ${MAX_FOLD_THREADS}], got ${count}`);
  }
  configuredHelpers = count;
  if (helpers && helpers.length !== helperCount()) {
    for (const helper of helpers) helper.stop();
    helpers = null;
  }
}

/**
 * Starts the helper threads ahead of the first large fold (a thread's start-up is tens of ms, so
 * it is done when a round of a large model opens, while its sites still train). A job posted to a
 * helper still starting waits in its queue and finds every block taken: harmless.
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

/** sum += w·x over every element: shared with the helper threads when both arrays are shared and large, else `axpy`. */
export function fold(sum: Float64Array, x: Float32Array | Float64Array, w: number): void {
  const live = helpers?.filter((h) => !h.broken) ?? [];
  const n = sum.length;
  if (live.length === 0 || n < PARALLEL_FOLD_MIN || x.length !== n || !(sum.buffer instanceof SharedArrayBuffer) || !(x.buffer instanceof SharedArrayBuffer)) {
    axpy(sum, x, w);
    return;
  }
  // A fresh control block per fold: a helper that reads an old job late finds it finished.
  const control = new Int32Array(new SharedArrayBuffer(16));
  const job: FoldJob = {
    sum: sum.buffer as SharedArrayBuffer, sumOffset: sum.byteOffset, x: x.buffer as SharedArrayBuffer, xOffset: x.byteOffset,
    xKind: x instanceof Float32Array ? 'f32' : 'f64', w, length: n, control,
  };
  for (const helper of live) helper.post(job);
  foldBlocks(sum, x, w, control, false);
  const blocks = Math.ceil(n / FOLD_BLOCK);
  for (let done = Atomics.load(control, DONE); done < blocks; done = Atomics.load(control, DONE)) {
    if (Atomics.load(control, FAILED) !== 0) throw new Error('a fold thread failed mid-fold');
    if (Atomics.wait(control, DONE, done, ANSWER_TIMEOUT_MS) === 'timed-out') {
      throw new Error(`a fold thread held a block for more than ${ANSWER_TIMEOUT_MS / 1000} s`);
    }
  }
  helperBlocks += Atomics.load(control, BY_HELPERS);
}
