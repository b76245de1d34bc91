/**
 * Encryption of one update on several cores: CKKS encryption is ~90% of a site's protection
 * cost (bench/ckks.ts: ~0.45 s of CPU per 1M parameters, seeded) and its ciphertexts are
 * independent, so W worker threads each encrypt a contiguous run of whole ciphertexts and the
 * results are concatenated in order: the same ciphertexts, in the same order, as one thread makes.
 * Worker plumbing lives here (client-sdk), not in crypto/, which stays free of threads and I/O.
 */
import { Worker } from 'node:worker_threads';
import { HeError, SLOTS, ciphertextCount, type CiphertextMode, type CkksKeyPair, type HeErrorCode } from '../../crypto/he/ckks.ts';
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
      });
      worker.on('message', (m: EncryptResult | { ready: true }) => {
        if (!('id' in m)) return;
        const job = this.pending.get(m.id);
        if (!job) return;
        this.pending.delete(m.id);
        if ('error' in m) job.reject(m.error.code?.startsWith('HE_') ? new HeError(m.error.code as HeErrorCode, m.error.message) : new Error(m.error.message));
        else job.resolve(m.ciphertexts);
      });
      worker.on('error', (err) => {
        for (const job of this.pending.values()) job.reject(err);
        this.pending.clear();
      });
      return { worker, ready };
    });
  }

  /** Encrypts like Ckks.encrypt, split over the workers by whole ciphertexts. */
  async encrypt(keys: CkksKeyPair, values: Float64Array, mode: CiphertextMode): Promise<Uint8Array[]> {
    if (this.closed) throw new Error('the encryption pool is closed');
    const per = Math.ceil(ciphertextCount(values.length) / this.slots.length);
    const parts = await Promise.all(this.slots.map(async (slot, w) => {
      const start = w * per * SLOTS;
      if (start >= values.length) return [];
      await slot.ready;
      const id = this.nextId++;
      const job: EncryptJob = { id, keys, values: values.slice(start, Math.min(values.length, start + per * SLOTS)), mode };
      return new Promise<Uint8Array[]>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        slot.worker.postMessage(job, [job.values.buffer as ArrayBuffer]);
      });
    }));
    return parts.flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
