/**
 * The coordinator's CKKS fold on worker threads (issue 9: "both cores used where it pays"). Each
 * accepted upload goes to the least busy of W threads, which loads and adds it into its own running
 * sum for the round (all or nothing per site, as the inline fold); when the stage ends, each
 * thread's partial sum comes back serialized and is added into the round's accumulator on the
 * event loop's thread. Ciphertext addition is exact modular arithmetic, so the aggregate is bit for
 * bit the inline fold's, in any order. Memory: one partial sum per thread and round, O(W × model).
 *
 * Uploads of 4 MiB or more arrive in a SharedArrayBuffer (protocols/tensor-codec.ts, verified off
 * the thread): the thread reads them in place, nothing is copied; smaller ones are copied (under
 * ~2 ms). Measured in bench/ckks-fold.ts (BENCHMARKS.md, "CKKS").
 *
 * Threads start when a round first takes a sum and are shared by every round of the process; they
 * hold the event loop only while a job runs. Once no round holds a sum they end after `idleMs`, or
 * at once on close() (a coordinator stopping). A thread that dies fails every job in flight and
 * every sum it held a part of (that round aborts); the next round starts fresh threads.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HeError, type HeErrorCode } from '../../crypto/he/ckks.ts';
import type { FoldJob, FoldReply, FoldRequest } from './he-fold-worker.ts';

// The sources run as .ts; the built package (tsc to dist/) as .js.
const WORKER_ENTRY = new URL(`./he-fold-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** More threads than this add partial sums to merge and memory, for little: uploads arrive over one network. */
const MAX_FOLD_THREADS = 4;

/**
 * Threads by default: one per core, the event loop's included (its share of the fold is the hand-off
 * and the merge, ~5% of the inline fold's CPU), up to 4; on one core none (the fold stays inline:
 * measured slower on threads there, see BENCHMARKS.md).
 */
export function defaultFoldThreads(): number {
  const cores = availableParallelism();
  return cores < 2 ? 0 : Math.min(cores, MAX_FOLD_THREADS);
}

interface Pending {
  resolve: (reply: Extract<FoldReply, { ok: true }>) => void;
  reject: (e: Error) => void;
  thread: number;
}

interface Thread {
  worker: Worker;
  /** Jobs sent and not yet answered: where the next upload goes. */
  busy: number;
  /** Sums this thread holds a part of. */
  sums: Set<number>;
}

/** One round's sum, spread over the pool's threads. */
export interface FoldSum {
  /** Folds one site's packed ciphertexts (framing already checked); rejects with the HeError of a bad ciphertext. */
  add(packed: Uint8Array): Promise<void>;
  /** Each thread's partial sum, serialized (the threads forget them); waits for folds in flight. */
  take(): Promise<Uint8Array[][]>;
  /** Forgets the sum everywhere (its round ended). */
  drop(): void;
}

export interface HeFoldPoolOptions {
  /** End the threads this long after the last sum was taken or dropped (default 30 s). */
  idleMs?: number;
}

export class HeFoldPool {
  readonly threads: number;
  readonly #idleMs: number;
  #threads: Thread[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #nextSum = 0;
  /** Sums not yet taken or dropped: while any, the threads are kept. */
  #open = new Set<number>();
  /** Sums that lost a part with a dead thread: their take() fails. */
  #lost = new Set<number>();
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(threads = defaultFoldThreads(), options: HeFoldPoolOptions = {}) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`a fold pool needs at least one thread, got ${threads}`);
    const idleMs = options.idleMs ?? 30_000;
    if (!(idleMs > 0)) throw new RangeError(`idleMs must be positive, got ${idleMs}`);
    this.threads = threads;
    this.#idleMs = idleMs;
  }

  /** Threads running now. */
  get running(): number {
    return this.#threads.length;
  }

  /** A new round's sum over `count` ciphertexts; starts the threads if they are not running. */
  sum(count: number): FoldSum {
    clearTimeout(this.#idleTimer);
    this.#start();
    const sum = this.#nextSum++;
    this.#open.add(sum);
    let dropped = false;
    const folds = new Set<Promise<unknown>>();
    const forget = () => {
      this.#open.delete(sum);
      this.#lost.delete(sum);
      for (const t of this.#threads) t.sums.delete(sum);
      if (this.#open.size === 0 && this.#threads.length > 0) {
        this.#idleTimer = setTimeout(() => void this.close(), this.#idleMs);
        this.#idleTimer.unref();
      }
    };
    return {
      add: (packed) => {
        if (dropped) return Promise.reject(new Error('the round\'s sum was dropped'));
        if (this.#lost.has(sum)) return Promise.reject(new Error('a fold thread of this round died; its partial sum is lost'));
        this.#start();
        const index = this.#threads.reduce((best, t, i) => (t.busy < this.#threads[best]!.busy ? i : best), 0);
        const thread = this.#threads[index]!;
        thread.sums.add(sum);
        // A SharedArrayBuffer is shared, not copied; anything else is copied (small uploads only).
        const job = this.#send(index, { op: 'add', sum, count, packed }).then(() => undefined);
        folds.add(job);
        void job.catch(() => undefined).finally(() => folds.delete(job));
        return job;
      },
      take: async () => {
        while (folds.size > 0) await Promise.allSettled([...folds]);
        if (dropped) throw new Error('the round\'s sum was dropped');
        if (this.#lost.has(sum)) throw new Error('a fold thread of this round died; its partial sum is lost');
        const holders = this.#threads.map((t, i) => (t.sums.has(sum) ? i : -1)).filter((i) => i >= 0);
        const replies = await Promise.all(holders.map((i) => this.#send(i, { op: 'take', sum })));
        for (const i of holders) this.#threads[i]?.sums.delete(sum);
        return replies.flatMap((r) => (r.ciphertexts ? [r.ciphertexts] : []));
      },
      drop: () => {
        if (dropped) return;
        dropped = true;
        for (const t of this.#threads) if (t.sums.has(sum)) t.worker.postMessage({ op: 'drop', sum } satisfies FoldJob);
        forget();
      },
    };
  }

  /** Each thread's WebAssembly heap in bytes (the leak test: flat across rounds). */
  async heapBytes(): Promise<number[]> {
    return Promise.all(this.#threads.map(async (_, i) => (await this.#send(i, { op: 'heap' })).heapBytes ?? 0));
  }

  #start(): void {
    if (this.#threads.length > 0) return;
    for (let i = 0; i < this.threads; i++) {
      const worker = new Worker(WORKER_ENTRY);
      worker.unref();
      worker.on('message', (m: FoldReply) => this.#reply(m));
      worker.on('error', (e) => this.#died(worker, e));
      worker.on('exit', (code) => this.#died(worker, new Error(`a CKKS fold thread exited (code ${code})`)));
      this.#threads.push({ worker, busy: 0, sums: new Set() });
    }
  }

  #send(index: number, request: FoldRequest): Promise<Extract<FoldReply, { ok: true }>> {
    const thread = this.#threads[index]!;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, thread: index });
      if (thread.busy++ === 0) thread.worker.ref();
      thread.worker.postMessage({ ...request, id } satisfies FoldJob);
    });
  }

  #reply(m: FoldReply): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    const thread = this.#threads[p.thread];
    if (thread && --thread.busy === 0) thread.worker.unref();
    if (m.ok) p.resolve(m);
    else p.reject(m.code ? new HeError(m.code as HeErrorCode, m.message) : new Error(`CKKS fold failed: ${m.message}`));
  }

  /** A thread died: every job in flight fails, every sum it held part of is lost, and all threads end (the next sum starts fresh ones). */
  #died(worker: Worker, e: Error): void {
    const index = this.#threads.findIndex((t) => t.worker === worker);
    if (index < 0) return;
    for (const s of this.#threads[index]!.sums) this.#lost.add(s);
    void this.#end(e);
  }

  async #end(e: Error): Promise<void> {
    clearTimeout(this.#idleTimer);
    const threads = this.#threads;
    this.#threads = [];
    // Sums with a part on a thread that ends are lost; a sum that nothing was added to yet is not.
    for (const t of threads) for (const s of t.sums) this.#lost.add(s);
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(e);
    }
    for (const t of threads) t.worker.removeAllListeners('exit');
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /**
   * Ends the threads if no round holds a sum (a coordinator stopping; another coordinator of the
   * process may still be mid-round, and then the threads end once it is done, after idleMs).
   */
  close(): Promise<void> {
    if (this.#open.size > 0) return Promise.resolve();
    return this.#end(new Error('the CKKS fold pool was closed'));
  }
}
