/**
 * A helper thread of fold-threads.ts: folds one range of an update into the shared running sum,
 * then raises the job's flag for the waiting coordinator thread.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { axpy } from './kernels.ts';
import type { FoldJob } from './fold-threads.ts';

/**
 * This thread allocates almost nothing, so its heap would never collect on its own, and the views
 * it made of each round's sum and of each update would keep those shared buffers mapped (the
 * verifier thread's leak, tensor-verifier-worker.ts). A minor collection after every
 * RELEASE_BYTES of buffers it saw frees them; the flag only makes `gc` visible to new contexts.
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const RELEASE_BYTES = 64 * 2 ** 20;
const FULL_EVERY = 16;
let seen = 0;
let collections = 0;

const port = parentPort;
if (!port) throw new Error('fold-threads-worker runs as a worker thread');

port.on('message', (job: FoldJob) => {
  let outcome = 2;
  try {
    const length = job.end - job.start;
    const sum = new Float64Array(job.sum, job.sumOffset + job.start * 8, length);
    const x = job.xKind === 'f32' ? new Float32Array(job.x, job.xOffset + job.start * 4, length) : new Float64Array(job.x, job.xOffset + job.start * 8, length);
    axpy(sum, x, job.w);
    seen += length * (job.xKind === 'f32' ? 12 : 16);
    outcome = 1;
  } finally {
    Atomics.store(job.flag, 0, outcome);
    Atomics.notify(job.flag, 0);
  }
  if (seen >= RELEASE_BYTES) {
    seen = 0;
    const type = ++collections % FULL_EVERY === 0 ? 'major' : 'minor';
    // After the answer: the waiting thread is not delayed by it.
    setImmediate(() => collect({ type }));
  }
});
port.postMessage('ready');
