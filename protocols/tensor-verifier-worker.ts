/**
 * The worker thread behind tensor-verifier.ts: for each streamed tensor it faults in the pages of
 * the shared buffer the chunks are copied into, then, chunk by chunk as the receiving thread hands
 * them over, checks floats for finiteness and feeds the bytes to SHA-256. Messages arrive in
 * order, so the digest covers the tensor in order.
 */
import { createHash, type Hash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import type { VerifierReply, VerifierRequest } from './tensor-verifier.ts';

/**
 * This thread's own collector, run after every RELEASE_BYTES of buffers it let go. A shared
 * buffer stays mapped while any thread holds it, and this thread allocates almost nothing, so its
 * heap would never collect on its own: every verified tensor stayed in memory (+16 MiB a 16 MiB
 * upload, measured: arrayBuffers 96 -> 578 MiB over 14 uploads). A job's buffer handle is young
 * when it is dropped, so a minor collection frees it (0.2-2.5 ms here; a full one of this ~10 MB
 * heap took 7-15 ms); every FULL_EVERY-th is full, for a handle that outlived two minor ones (a
 * long transfer). The flag only makes `gc` visible to contexts created after it.
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const RELEASE_BYTES = 64 * 2 ** 20;
const FULL_EVERY = 16;
let released = 0;
let collections = 0;

function forget(job: number): void {
  const dropped = jobs.get(job);
  if (!dropped) return;
  jobs.delete(job);
  released += dropped.bytes.length;
  if (released >= RELEASE_BYTES) {
    released = 0;
    const type = ++collections % FULL_EVERY === 0 ? 'major' : 'minor';
    // After this turn, so the reply that may be in flight is not delayed by it.
    setImmediate(() => collect({ type }));
  }
}

interface Job {
  bytes: Uint8Array;
  floats: Float32Array | null;
  hash: Hash;
  nonFinite: number;
  /** Σ x² of the floats so far, in float64 and in element order: l2Norm's own sum, bit for bit. */
  sumOfSquares: number;
}

/** One word per 4 KiB page. */
const PAGE_WORDS = 1024;

/** Σ x² over floats[start, end), continuing `sum`: small and branch-free, so it is optimized as a whole. */
function sumOfSquares(floats: Float32Array, start: number, end: number, sum: number): number {
  for (let i = start; i < end; i++) {
    const v = floats[i]!;
    sum += v * v;
  }
  return sum;
}

function firstNonFinite(floats: Float32Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    // x - x is NaN exactly when x is NaN or ±Infinity.
    const v = floats[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

const port = parentPort;
if (!port) throw new Error('tensor-verifier-worker runs as a worker thread');
const jobs = new Map<number, Job>();

port.on('message', (m: VerifierRequest) => {
  switch (m.t) {
    case 'open': {
      const bytes = new Uint8Array(m.buffer);
      jobs.set(m.job, { bytes, floats: m.floats ? new Float32Array(m.buffer, 0, bytes.length >> 2) : null, hash: createHash('sha256'), nonFinite: -1, sumOfSquares: 0 });
      // A fresh buffer's pages are faulted in on first write, at several ms per MiB on the VMs
      // measured: done here, in parallel with the network, the receiving thread's copies find them
      // mapped (a pooled one, written before, is not: `prefault` false). Exchanging 0 for 0 writes
      // (x86 cmpxchg stores even when it fails) without changing a word the receiver may be
      // filling, and faults each page once: Atomics.add reads first, so every page faulted twice,
      // a read fault for the zero page then a write fault (33k faults for a 64 MiB buffer, 16.4k
      // this way; ~11 µs each on the VMs measured).
      const words = new Int32Array(m.buffer, 0, bytes.length >> 2);
      if (m.prefault) for (let i = 0; i < words.length; i += PAGE_WORDS) Atomics.compareExchange(words, i, 0, 0);
      break;
    }
    case 'chunk': {
      const job = jobs.get(m.job);
      if (!job || job.nonFinite >= 0) break;
      if (job.floats) {
        const sum = sumOfSquares(job.floats, m.start >> 2, m.end >> 2, job.sumOfSquares);
        // Every float32 squared and summed over 2³¹ elements stays below 1e87: the sum is finite
        // exactly when every element is, so the element-wise search runs only for a bad chunk.
        if (!Number.isFinite(sum)) {
          job.nonFinite = firstNonFinite(job.floats, m.start >> 2, m.end >> 2);
          port.postMessage({ t: 'nonFinite', job: m.job, index: job.nonFinite } satisfies VerifierReply);
          return;
        }
        job.sumOfSquares = sum;
      }
      job.hash.update(job.bytes.subarray(m.start, m.end));
      break;
    }
    case 'finish': {
      const job = jobs.get(m.job);
      forget(m.job);
      port.postMessage({ t: 'done', job: m.job, digest: job ? job.hash.digest() : null, nonFinite: job?.nonFinite ?? -1, sumOfSquares: job?.floats ? job.sumOfSquares : -1 } satisfies VerifierReply);
      break;
    }
    case 'close':
      forget(m.job);
      break;
  }
});
