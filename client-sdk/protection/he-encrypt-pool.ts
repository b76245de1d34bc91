/**
 * Encryption of one update on several cores: CKKS encryption is ~90% of a site's protection
 * cost (bench/ckks.ts: ~0.3 s of CPU per 1M parameters, seeded) and its ciphertexts are
 * independent, so W worker threads each encrypt a contiguous run of whole ciphertexts and the
 * results are concatenated in order: the same ciphertexts, in the same order, as one thread makes.
 * Worker plumbing lives here (client-sdk), not in crypto/, which stays free of threads and I/O.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Ckks, HeError, SLOTS, ciphertextCount, type CiphertextMode, type CkksKeyPair, type HeErrorCode } from '../../crypto/he/ckks.ts';
import type { EncryptJob, EncryptResult } from './he-encrypt-worker.ts';

interface Slot {
  worker: Worker;
  ready: Promise<void>;
}

export class HeEncryptPool {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, { resolve: (c: Uint8Array[]) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError(`an encryption pool has 1 to 64 workers, got ${size}`);
    this.slots = Array.from({ length: size }, () => {
      const worker = new Worker(new URL('./he-encrypt-worker.ts', import.meta.url));
      // Idle workers must not keep a finished site's process alive.
      worker.unref();
      const ready = new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`an encryption worker exited (code ${code}) before it was ready`)));
      });
      // Awaited by encrypt(); a pool closed before its workers were ready must not leave an unhandled rejection.
      ready.catch(() => undefined);
      worker.on('message', (m: EncryptResult | { ready: true }) => {
        if (!('id' in m)) return;
        const job = this.pending.get(m.id);
        if (!job) return;
        this.pending.delete(m.id);
        if ('error' in m) job.reject(m.error.code?.startsWith('HE_') ? new HeError(m.error.code as HeErrorCode, m.error.message) : new Error(m.error.message));
        else job.resolve(m.ciphertexts);
      });
      const fail = (err: Error) => {
        for (const job of this.pending.values()) job.reject(err);
        this.pending.clear();
      };
      worker.on('error', fail);
      // A worker that dies (out of memory, terminated by close()) fails the jobs still in flight instead of leaving them pending.
      worker.on('exit', (code) => fail(new Error(this.closed ? 'the encryption pool was closed' : `an encryption worker exited (code ${code})`)));
      return { worker, ready };
    });
  }

  /** Resolves once every worker has its SEAL runtime loaded and warmed up. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  /** Encrypts like Ckks.encrypt, split over the workers by whole ciphertexts. */
  async encrypt(keys: CkksKeyPair, values: Float64Array, mode: CiphertextMode): Promise<Uint8Array[]> {
    if (this.closed) throw new Error('the encryption pool is closed');
    const per = Math.ceil(ciphertextCount(values.length) / this.slots.length);
    const parts = await Promise.all(this.slots.map(async (slot, w) => {
      const start = w * per * SLOTS;
      if (start >= values.length) return [];
      await slot.ready;
      if (this.closed) throw new Error('the encryption pool was closed');
      const id = this.nextId++;
      const job: EncryptJob = { id, keys, values: values.slice(start, Math.min(values.length, start + per * SLOTS)), mode };
      return new Promise<Uint8Array[]>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        slot.worker.postMessage(job, [job.values.buffer as ArrayBuffer]);
      });
    }));
    return parts.flat();
  }

  /** Stops every worker (each frees its SEAL runtime with its thread); jobs in flight are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * Below this many ciphertexts (~262k parameters) an update is encrypted on the calling thread:
 * a pooled job pays a few ms of messaging and key loading per worker, against ~1.3 ms of CPU per
 * ciphertext it takes off this thread (BENCHMARKS.md, CKKS).
 */
export const MIN_POOLED_CIPHERTEXTS = 64;
/**
 * A pool must beat one thread by this factor in the trials to be kept. On 2 idle cores the pool's
 * best trial measured 0.62–0.81 of the thread's; at 0.9 and two trials a neighbour's burst settled
 * one run in three on the thread (bench/ckks.ts --encrypt-workers auto, BENCHMARKS.md).
 */
const POOL_MARGIN = 0.95;
/** Large updates timed each way before `auto` settles. */
export const TRIALS = 3;

/** Whether a pool of 2 can pay at all here: another core, and an update large enough. */
export function poolMayPay(parameters: number, cores = availableParallelism()): boolean {
  return cores >= 2 && ciphertextCount(parameters) >= MIN_POOLED_CIPHERTEXTS;
}

export type EncryptThreads = number | 'auto';

/**
 * How a site encrypts its updates: on this thread, on a pool of W workers, or (`auto`) on a pool
 * of 2 only where that was measured to pay. A core the OS reports may not be one the process gets
 * (a shared VM scheduled per session gave two threads 0.73× the speed of one, BENCHMARKS.md), so
 * `auto` times both on real updates: the first four large updates go to this thread and the pool
 * (started and warmed in between) in turn, and it keeps the faster per ciphertext, the pool only if
 * it wins by 10%.
 */
export class HeEncryption {
  private readonly context: () => Promise<Ckks>;
  private readonly threads: EncryptThreads;
  private pool: HeEncryptPool | undefined;
  /** Wall ms per ciphertext of each trial. */
  private readonly trials = { thread: [] as number[], pool: [] as number[] };
  private choice: 'thread' | 'pool' | undefined;
  private poolJobs = 0;

  constructor(context: () => Promise<Ckks>, threads: EncryptThreads = 'auto') {
    if (threads !== 'auto' && (!Number.isInteger(threads) || threads < 1 || threads > 64)) throw new RangeError(`encryption threads are 1 to 64 or "auto", got ${String(threads)}`);
    this.context = context;
    this.threads = threads;
  }

  /** `auto`'s trials so far: wall ms per ciphertext, each way. */
  get trialTimes(): { thread: readonly number[]; pool: readonly number[] } {
    return this.trials;
  }

  /** What `auto` settled on (undefined until it has timed both, or when it is not `auto`). */
  get chosen(): 'thread' | 'pool' | undefined {
    return this.choice;
  }

  async encrypt(keys: CkksKeyPair, values: Float64Array, mode: CiphertextMode): Promise<Uint8Array[]> {
    if (this.threads !== 'auto') {
      if (this.threads === 1) return (await this.context()).encrypt(keys, values, mode);
      return (this.pool ??= new HeEncryptPool(this.threads)).encrypt(keys, values, mode);
    }
    if (this.choice === 'thread' || !poolMayPay(values.length)) return (await this.context()).encrypt(keys, values, mode);
    if (this.choice === 'pool') return this.pool!.encrypt(keys, values, mode);
    const count = ciphertextCount(values.length);
    // Trials alternate (this thread, then the pool, twice): each side keeps its fastest, which a
    // neighbour's burst on a shared machine inflates least.
    if (this.trials.thread.length <= this.trials.pool.length) {
      const he = await this.context();
      if (this.trials.thread.length === 0) {
        // This thread's WebAssembly tiers up after some work, as the pool's workers do before they
        // report ready: a few untimed ciphertexts keep the trial fair.
        he.encrypt(keys, new Float64Array(8 * SLOTS), mode);
      }
      const t0 = performance.now();
      const out = he.encrypt(keys, values, mode);
      this.trials.thread.push((performance.now() - t0) / count);
      // Started after the timing, so that its workers' start-up does not slow this thread's trial.
      this.pool ??= new HeEncryptPool(2);
      return out;
    }
    const pool = this.pool!;
    this.poolJobs++;
    let out: Uint8Array[];
    try {
      await pool.ready();
      const t0 = performance.now();
      out = await pool.encrypt(keys, values, mode);
      this.trials.pool.push((performance.now() - t0) / count);
    } finally {
      this.poolJobs--;
    }
    if (this.choice === undefined && this.trials.pool.length >= TRIALS) {
      this.choice = Math.min(...this.trials.pool) < POOL_MARGIN * Math.min(...this.trials.thread) ? 'pool' : 'thread';
    }
    // Sites of one process may share this object: the pool goes once no trial of theirs is still on it.
    if (this.choice === 'thread' && this.poolJobs === 0 && this.pool === pool) {
      this.pool = undefined;
      void pool.close();
    }
    return out;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}
