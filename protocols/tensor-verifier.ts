/**
 * Integrity checks of a streamed tensor off the receiving thread. The thread that holds the gRPC
 * stream copies each chunk into a SharedArrayBuffer-backed tensor and hands the range to one
 * worker thread per process, which faults the buffer's pages in ahead of the copies, checks
 * finiteness and hashes (SHA-256), in order. On one event loop serving both ends of a transfer,
 * these were most of the time of a 16 MiB download (BENCHMARKS.md); here they overlap with the
 * network. The checks themselves are unchanged: TensorAssembler still refuses a non-finite chunk
 * (at the next chunk after the worker finds it, or at the end) and a digest that does not match.
 */
import { Worker } from 'node:worker_threads';

export type VerifierRequest =
  | { t: 'open'; job: number; buffer: SharedArrayBuffer; floats: boolean; prefault: boolean }
  | { t: 'chunk'; job: number; start: number; end: number }
  | { t: 'finish'; job: number }
  | { t: 'close'; job: number };

export type VerifierReply =
  | { t: 'nonFinite'; job: number; index: number }
  | { t: 'done'; job: number; digest: Uint8Array | null; nonFinite: number; sumOfSquares: number };

/**
 * `sumOfSquares`: Σ x² over a float tensor, accumulated in float64 in element order (-1 for other
 * dtypes), so a receiver's norm check need not read the tensor again on its own thread.
 */
export interface VerifierResult {
  digest: Buffer;
  nonFinite: number;
  sumOfSquares: number;
}

interface Pending {
  resolve: (result: VerifierResult) => void;
  reject: (err: Error) => void;
}

class VerifierThread {
  private readonly worker: Worker;
  /** Weak: an abandoned verification must stay collectable, so `abandoned` can release its buffer. */
  private readonly jobs = new Map<number, WeakRef<OffThreadVerification>>();
  private readonly pending = new Map<number, Pending>();
  private nextJob = 1;
  private failed: Error | null = null;

  constructor() {
    // .js once built into dist/ (rewriteRelativeImportExtensions does not reach this URL).
    this.worker = new Worker(new URL(`./tensor-verifier-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
    // Idle, it keeps no process alive; while a result is awaited it does (see finish).
    this.worker.unref();
    this.worker.on('message', (m: VerifierReply) => {
      if (m.t === 'nonFinite') {
        const job = this.jobs.get(m.job)?.deref();
        if (job) job.nonFinite = m.index;
        return;
      }
      this.jobs.delete(m.job);
      const waiting = this.pending.get(m.job);
      this.pending.delete(m.job);
      if (this.pending.size === 0) this.worker.unref();
      if (!waiting) return;
      if (!m.digest) waiting.reject(new Error('tensor verifier lost the job'));
      else waiting.resolve({ digest: Buffer.from(m.digest.buffer, m.digest.byteOffset, m.digest.byteLength), nonFinite: m.nonFinite, sumOfSquares: m.sumOfSquares });
    });
    const fail = (err: Error) => {
      this.failed ??= err;
      if (thread === this) thread = null;
      for (const waiting of this.pending.values()) waiting.reject(this.failed);
      this.pending.clear();
      this.jobs.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`tensor verifier thread exited (code ${code})`)));
  }

  open(verification: OffThreadVerification, buffer: SharedArrayBuffer, floats: boolean): number {
    const job = this.nextJob++;
    this.jobs.set(job, new WeakRef(verification));
    // A buffer from the pool is mapped already: faulting it in again would only contend with the copies.
    this.post({ t: 'open', job, buffer, floats, prefault: !warm.has(buffer) });
    return job;
  }

  post(message: VerifierRequest): void {
    if (!this.failed) this.worker.postMessage(message);
  }

  finish(job: number): Promise<VerifierResult> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.set(job, { resolve, reject });
      this.worker.ref();
      this.post({ t: 'finish', job });
    });
  }

  close(job: number): void {
    this.jobs.delete(job);
    this.post({ t: 'close', job });
  }
}

let thread: VerifierThread | null = null;

/** A verification dropped unfinished (a cut transfer nobody resumes) releases its buffer in the worker. */
const abandoned = new FinalizationRegistry<{ owner: VerifierThread; job: number }>(({ owner, job }) => owner.close(job));

/** The off-thread finiteness check and SHA-256 of one tensor, fed in order. */
export class OffThreadVerification {
  /** The first non-finite element the worker found so far, or -1. */
  nonFinite = -1;
  private readonly owner: VerifierThread;
  private readonly job: number;
  private done = false;

  constructor(buffer: SharedArrayBuffer, floats: boolean) {
    thread ??= new VerifierThread();
    this.owner = thread;
    this.job = thread.open(this, buffer, floats);
    abandoned.register(this, { owner: this.owner, job: this.job }, this);
  }

  /** Bytes [start, end) of the buffer are final: check and hash them. */
  chunk(start: number, end: number): void {
    this.owner.post({ t: 'chunk', job: this.job, start, end });
  }

  /** The digest of every chunk handed over, and the first non-finite element (-1: none). */
  async finish(): Promise<VerifierResult> {
    if (this.done) throw new Error('this tensor verification already finished');
    this.done = true;
    abandoned.unregister(this);
    return this.owner.finish(this.job);
  }

  /** Drops the job unfinished (the worker stops reading the buffer once it gets to this). */
  close(): void {
    if (this.done) return;
    this.done = true;
    abandoned.unregister(this);
    this.owner.close(this.job);
  }
}

/**
 * Shared buffers kept for the next transfer of the same size: a site's upload images
 * (upload-image.ts), a coordinator's receive buffers for updates it folds and forgets (a pooled
 * TensorAssembler). A site sends one update the size of the model every round. Reused, their pages
 * stay mapped: a fresh 16 MiB buffer costs ~4,000 page faults, tens of ms on the VMs measured
 * (BENCHMARKS.md). At most STAGING_KEPT_BYTES are kept; beyond that a returned buffer is dropped.
 */
const STAGING_KEPT_BYTES = 256 * 2 ** 20;
const stagingFree = new Map<number, SharedArrayBuffer[]>();
let stagingKept = 0;

/** Buffers that came out of the pool, i.e. were written before. */
const warm = new WeakSet<SharedArrayBuffer>();

export function takeStaging(byteLength: number): SharedArrayBuffer {
  const kept = stagingFree.get(byteLength)?.pop();
  if (!kept) return new SharedArrayBuffer(byteLength);
  stagingKept -= byteLength;
  warm.add(kept);
  return kept;
}

export function giveBackStaging(buffer: SharedArrayBuffer): void {
  if (stagingKept + buffer.byteLength > STAGING_KEPT_BYTES) return;
  stagingKept += buffer.byteLength;
  const list = stagingFree.get(buffer.byteLength) ?? [];
  list.push(buffer);
  stagingFree.set(buffer.byteLength, list);
}
