/**
 * A thread of HeFoldPool: keeps one running CKKS sum per round it was handed uploads of, and gives
 * it back serialized when the round's stage ends. Its own SEAL runtime and WebAssembly heap; every
 * sum is deleted once taken or dropped, so the heap stays flat across rounds.
 */
import { parentPort } from 'node:worker_threads';
import { Ckks, HeError, MAX_FULL_CIPHERTEXT_BYTES, unpackCiphertexts, type CkksAccumulator } from '../../crypto/he/ckks.ts';

/** What the pool asks a thread, answered by a FoldReply with the job's id. */
export type FoldRequest =
  /** Fold one site's packed ciphertexts (all or nothing) into sum `sum`. */
  | { op: 'add'; sum: number; count: number; packed: Uint8Array }
  /** The sum's ciphertexts, serialized (none if nothing was added), and forget it. */
  | { op: 'take'; sum: number }
  /** The thread's WebAssembly heap size, for the leak test. */
  | { op: 'heap' };

export type FoldJob =
  | (FoldRequest & { id: number })
  /** Forget the sum (its round ended without it); no answer. */
  | { op: 'drop'; sum: number };

export type FoldReply =
  | { id: number; ok: true; ciphertexts?: Uint8Array[] | null; heapBytes?: number }
  | { id: number; ok: false; code?: string; message: string };

const port = parentPort!;
const he = await Ckks.create();
const sums = new Map<number, CkksAccumulator>();

port.on('message', (job: FoldJob) => {
  if (job.op === 'drop') {
    sums.get(job.sum)?.delete();
    sums.delete(job.sum);
    return;
  }
  try {
    if (job.op === 'add') {
      let acc = sums.get(job.sum);
      if (!acc) sums.set(job.sum, (acc = he.accumulator(job.count)));
      acc.add(unpackCiphertexts(job.packed, job.count, MAX_FULL_CIPHERTEXT_BYTES));
      port.postMessage({ id: job.id, ok: true } satisfies FoldReply);
    } else if (job.op === 'take') {
      const acc = sums.get(job.sum);
      sums.delete(job.sum);
      let ciphertexts: Uint8Array[] | null = null;
      try {
        if (acc && acc.contributors > 0) ciphertexts = acc.serialize();
      } finally {
        acc?.delete();
      }
      port.postMessage({ id: job.id, ok: true, ciphertexts } satisfies FoldReply, (ciphertexts ?? []).map((c) => c.buffer as ArrayBuffer));
    } else {
      port.postMessage({ id: job.id, ok: true, heapBytes: he.heapBytes() } satisfies FoldReply);
    }
  } catch (error) {
    const reply: FoldReply = error instanceof HeError ? { id: job.id, ok: false, code: error.code, message: error.message } : { id: job.id, ok: false, message: (error as Error).message ?? String(error) };
    port.postMessage(reply);
  }
});
