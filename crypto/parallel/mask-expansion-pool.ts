/**
 * SecAgg mask expansion on every core, for the coordinator's unmask and a site's masked input alike:
 * the masks to apply (crypto/secagg MaskTerm) are expanded by coordinate range, the calling thread
 * taking one range and each worker thread another, all writing into one SharedArrayBuffer — AES-CTR
 * is seekable, so no partial sums are merged and the result is bit for bit applyMasks' on one thread.
 * Measured in bench/secagg.ts (BENCHMARKS.md).
 *
 * It lives in crypto/parallel/, the one corner of crypto/ with threads (it imports the rest of crypto/,
 * which never imports it, so the kernels stay pure and free of threads), where both the coordinator
 * and the site SDK can use the pool without importing each other.
 *
 * Threads start on the first job that needs them and are kept (a start costs tens of milliseconds and
 * a cold thread's first large pass ~2× a warm one's); they hold the event loop only while a job runs,
 * so an idle pool never keeps a process alive. With `idleMs`, threads idle that long are ended (a
 * site masks once per round and should not keep threads between federations); the next job starts
 * them again.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { applyMasks, type MaskTerm } from '../secagg/prg.ts';
import type { ExpansionJob } from './mask-expansion-worker.ts';

// The sources run as .ts; the built package (tsc to dist/) as .js.
const WORKER_ENTRY = new URL(`./mask-expansion-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** Below this many words per thread, one thread is faster than a hand-off. */
const MIN_WORDS_PER_THREAD = 1 << 16;

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface MaskExpansionPoolOptions {
  /** End the threads after this many milliseconds without a job (default: keep them until close()). */
  idleMs?: number;
}

export class MaskExpansionPool {
  /** Extra threads besides the caller's. */
  readonly threads: number;
  readonly #idleMs: number;
  #workers: Worker[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #busy = 0;
  #closed = false;
  #idleTimer: NodeJS.Timeout | undefined;
  /**
   * The shared vector a copied-in job works on, kept between jobs: a new SharedArrayBuffer of 4 MB
   * costs ~20 ms here (fresh zeroed pages every time), the copies in and out ~0.5 ms each.
   */
  #scratch: SharedArrayBuffer | undefined;
  #scratchInUse = false;

  /** `threads` extra threads besides the caller's (default: one per core but the caller's). */
  constructor(threads = Math.max(0, availableParallelism() - 1), options: MaskExpansionPoolOptions = {}) {
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`threads must be a non-negative integer, got ${threads}`);
    const idleMs = options.idleMs ?? Infinity;
    if (!(idleMs > 0)) throw new RangeError(`idleMs must be positive, got ${idleMs}`);
    this.threads = threads;
    this.#idleMs = idleMs;
  }

  /** Threads running now (0 before the first job, after an idle end and after close()). */
  get running(): number {
    return this.#workers.length;
  }

  /** Starts the threads now rather than on the first job (a coordinator, before its first round). */
  start(): void {
    if (this.#closed || this.#workers.length > 0) return;
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(WORKER_ENTRY);
      w.unref();
      w.on('message', (m: { id: number; ok: boolean; message?: string }) => this.#settle(m.id, m.ok ? null : new Error(`mask expansion failed: ${m.message}`)));
      w.on('error', (e) => void this.#failAll(e));
      w.on('exit', (code) => void this.#failAll(new Error(`a mask expansion thread exited (code ${code})`)));
      this.#workers.push(w);
    }
  }

  #settle(id: number, error: Error | null): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (error) p.reject(error);
    else p.resolve();
  }

  /**
   * A thread died, or the pool is closed: every job in flight fails, and the pool computes on the
   * caller's thread from now on.
   */
  #failAll(e: Error): Promise<void> {
    if (this.#closed) return this.#end();
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(e);
    }
    return this.#end();
  }

  async #end(): Promise<void> {
    clearTimeout(this.#idleTimer);
    if (!this.#scratchInUse) this.#scratch = undefined;
    const workers = this.#workers;
    this.#workers = [];
    for (const w of workers) w.removeAllListeners('exit');
    await Promise.all(workers.map((w) => w.terminate()));
  }

  /**
   * target ← target + Σ sign·PRG(seed), as applyMasks, split over the threads. A target on a
   * SharedArrayBuffer is worked on in place (a failure may leave it half masked); any other is copied
   * in and, only once every range is done, copied back, so a failed thread leaves it untouched.
   */
  async apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
    // A closed or broken pool still gives the right sum, on the calling thread alone.
    const threads = this.#closed ? 0 : this.threads;
    const parts = Math.min(threads + 1, Math.max(1, Math.floor(target.length / MIN_WORDS_PER_THREAD)));
    if (parts === 1 || terms.length === 0) return applyMasks(target, terms);
    const inPlace = target.buffer instanceof SharedArrayBuffer;
    // Concurrent jobs (two sites of one process masking at once) each need their own shared vector.
    const ownScratch = !inPlace && !this.#scratchInUse;
    if (ownScratch) {
      if (!this.#scratch || this.#scratch.byteLength < target.byteLength) this.#scratch = new SharedArrayBuffer(target.byteLength);
      this.#scratchInUse = true;
    }
    const shared = inPlace ? target : new Uint32Array(ownScratch ? this.#scratch! : new SharedArrayBuffer(target.byteLength), 0, target.length);
    if (!inPlace) shared.set(target);
    const seeds = new Uint8Array(32 * terms.length);
    const signs = new Int8Array(terms.length);
    terms.forEach((m, i) => {
      seeds.set(m.seed, 32 * i);
      signs[i] = m.sign;
    });
    // Ranges start on multiples of 4 words (AES block boundaries).
    const cut = (p: number) => (p >= parts ? target.length : 4 * Math.round((p * target.length) / parts / 4));
    const jobs: Promise<void>[] = [];
    clearTimeout(this.#idleTimer);
    this.start();
    this.#busy++;
    for (const w of this.#workers) w.ref();
    try {
      for (let p = 1; p < parts; p++) {
        const id = this.#nextId++;
        jobs.push(new Promise<void>((resolve, reject) => this.#pending.set(id, { resolve, reject })));
        const job: ExpansionJob = { id, buffer: shared.buffer as SharedArrayBuffer, byteOffset: shared.byteOffset, length: target.length, from: cut(p), to: cut(p + 1), seeds, signs };
        this.#workers[p - 1]!.postMessage(job);
      }
      // The calling thread takes the first range meanwhile; every thread is waited for, failed or not,
      // before the caller hears of a failure.
      let failure: unknown = null;
      try {
        applyMasks(shared, terms, 0, cut(1));
      } catch (error) {
        failure = error;
      }
      for (const r of await Promise.allSettled(jobs)) if (r.status === 'rejected' && failure === null) failure = r.reason;
      if (failure !== null) throw failure;
      if (!inPlace) target.set(shared);
    } finally {
      if (ownScratch) this.#scratchInUse = false;
      if (--this.#busy === 0) {
        for (const w of this.#workers) w.unref();
        if (Number.isFinite(this.#idleMs) && !this.#closed) {
          this.#idleTimer = setTimeout(() => void this.#end(), this.#idleMs);
          this.#idleTimer.unref();
        }
      }
    }
  }

  /** Ends the threads (a job in flight fails); later jobs run on the caller's thread. */
  close(): Promise<void> {
    return this.#failAll(new Error('the mask expansion pool was closed'));
  }
}
