/**
 * The coordinator's unmask step on every core: the masks to remove (crypto/secagg unmaskTerms) are
 * expanded by coordinate range, the calling thread taking one range and each worker thread another,
 * all writing into one SharedArrayBuffer — AES-CTR is seekable, so no partial sums are merged.
 * Measured in bench/secagg.ts (BENCHMARKS.md). The vector is copied in and, only when every range
 * is done, copied back: a failed thread leaves the caller's sum untouched.
 *
 * The threads are started once and kept (a start costs tens of milliseconds); they hold the event
 * loop only while a job runs.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { invalidParameter } from '../../crypto/secagg/errors.ts';
import { applyMasks, type MaskTerm } from '../../crypto/secagg/prg.ts';
import {
  reconstructAll, unmaskTerms, type Advertisement, type Revealed, type Round,
} from '../../crypto/secagg/round.ts';
import type { ExpansionJob } from './mask-expansion-worker.ts';

/** Below this many words per thread, one thread is faster than a hand-off. */
const MIN_WORDS_PER_THREAD = 1 << 16;

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class MaskExpansionPool {
  readonly threads: number;
  #workers: Worker[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #busy = 0;
  #closed = false;

  /** `threads` extra threads besides the caller's (default: one per core but the caller's). */
  constructor(threads = Math.max(0, availableParallelism() - 1)) {
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`threads must be a non-negative integer, got ${threads}`);
    this.threads = threads;
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL('./mask-expansion-worker.ts', import.meta.url));
      w.unref();
      w.on('message', (m: { id: number; ok: boolean; message?: string }) => this.#settle(m.id, m.ok ? null : new Error(`mask expansion failed: ${m.message}`)));
      w.on('error', (e) => this.#failAll(e));
      w.on('exit', (code) => { if (!this.#closed) this.#failAll(new Error(`a mask expansion thread exited (code ${code})`)); });
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

  #failAll(e: Error): void {
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(e);
    }
  }

  /** target ← target + Σ sign·PRG(seed), as applyMasks, split over the threads. */
  async apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
    // A closed or broken pool still gives the right sum, on the calling thread alone.
    const threads = this.#closed ? 0 : this.#workers.length;
    const parts = Math.min(threads + 1, Math.max(1, Math.floor(target.length / MIN_WORDS_PER_THREAD)));
    if (parts === 1 || terms.length === 0) return applyMasks(target, terms);
    const shared = new Uint32Array(new SharedArrayBuffer(target.byteLength));
    shared.set(target);
    const seeds = new Uint8Array(32 * terms.length);
    const signs = new Int8Array(terms.length);
    terms.forEach((m, i) => {
      seeds.set(m.seed, 32 * i);
      signs[i] = m.sign;
    });
    // Ranges start on multiples of 4 words (AES block boundaries).
    const cut = (p: number) => (p >= parts ? target.length : 4 * Math.round((p * target.length) / parts / 4));
    const jobs: Promise<void>[] = [];
    this.#busy++;
    for (const w of this.#workers) w.ref();
    try {
      for (let p = 1; p < parts; p++) {
        const id = this.#nextId++;
        jobs.push(new Promise<void>((resolve, reject) => this.#pending.set(id, { resolve, reject })));
        const job: ExpansionJob = { id, buffer: shared.buffer as SharedArrayBuffer, length: target.length, from: cut(p), to: cut(p + 1), seeds, signs };
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
    } finally {
      if (--this.#busy === 0) for (const w of this.#workers) w.unref();
    }
    target.set(shared);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers = [];
  }
}

/** crypto/secagg unmaskSum with the mask expansion spread over `pool`. */
export async function unmaskSumParallel(pool: MaskExpansionPool, round: Round, sum: Uint32Array, advertisements: ReadonlyMap<number, Advertisement>, u2: ReadonlySet<number>, survivors: readonly number[], revealed: ReadonlyMap<number, Revealed>): Promise<Uint32Array> {
  if (sum.length !== round.length) throw invalidParameter(`the sum has ${sum.length} elements, the round ${round.length}`);
  const { selfSeeds, maskKeys } = await reconstructAll(round, advertisements, u2, survivors, revealed);
  await pool.apply(sum, unmaskTerms(round, advertisements, u2, survivors, selfSeeds, maskKeys));
  return sum;
}
