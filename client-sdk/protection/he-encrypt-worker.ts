/**
 * One encryption worker of HeEncryptPool: its own SEAL runtime (WebAssembly instances are per
 * thread), encrypting the slice of an update it is sent. Keys arrive with each job and live only
 * in this thread's memory for the job's length.
 */
import { parentPort } from 'node:worker_threads';
import { Ckks, SLOTS, type CiphertextMode, type CkksKeyPair } from '../../crypto/he/ckks.ts';

export interface EncryptJob {
  id: number;
  keys: CkksKeyPair;
  values: Float64Array;
  mode: CiphertextMode;
}
export type EncryptResult = { id: number; ciphertexts: Uint8Array[] } | { id: number; error: { message: string; code?: string } };

const port = parentPort;
if (!port) throw new Error('he-encrypt-worker.ts runs as a worker thread');
const he = await Ckks.create();
// V8 tiers SEAL's hot WebAssembly functions up only after some work: a throwaway key and a few
// ciphertexts of zeros (both modes) before reporting ready, so the first real job runs at speed.
const warmKeys = he.generateKeys();
for (const mode of ['seeded', 'full'] as const) he.encrypt(warmKeys, new Float64Array(4 * SLOTS), mode);
port.on('message', (job: EncryptJob) => {
  let result: EncryptResult;
  try {
    result = { id: job.id, ciphertexts: he.encrypt(job.keys, job.values, job.mode) };
  } catch (err) {
    result = { id: job.id, error: { message: err instanceof Error ? err.message : String(err), code: (err as { code?: string }).code } };
  }
  port.postMessage(result, 'ciphertexts' in result ? result.ciphertexts.map((c) => c.buffer as ArrayBuffer) : []);
});
port.postMessage({ ready: true });
