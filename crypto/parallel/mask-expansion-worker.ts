/**
 * A thread of MaskExpansionPool: applies mask terms to its coordinate range of a shared vector.
 * Only keys and offsets cross the thread boundary; the vector is a SharedArrayBuffer.
 */
import { parentPort } from 'node:worker_threads';
import { applyMasks, type MaskTerm } from '../secagg/prg.ts';

export interface ExpansionJob {
  id: number;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  from: number;
  to: number;
  /** 32 bytes per term. */
  seeds: Uint8Array;
  signs: Int8Array;
}

parentPort!.on('message', (job: ExpansionJob) => {
  try {
    const terms: MaskTerm[] = [];
    for (let i = 0; i < job.signs.length; i++) terms.push({ seed: job.seeds.subarray(32 * i, 32 * i + 32), sign: job.signs[i] === 1 ? 1 : -1 });
    applyMasks(new Uint32Array(job.buffer, job.byteOffset, job.length), terms, job.from, job.to);
    parentPort!.postMessage({ id: job.id, ok: true });
  } catch (error) {
    parentPort!.postMessage({ id: job.id, ok: false, message: (error as Error).message });
  }
});
