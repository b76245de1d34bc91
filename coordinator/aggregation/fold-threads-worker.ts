/**
 * A helper thread of fold-threads.ts: claims blocks of an update and folds them into the shared
 * running sum until none is left.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { DONE, FAILED, foldBlocks, type FoldJob } from './fold-threads.ts';

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
  const sum = new Float64Array(job.sum, job.sumOffset, job.length);
  const x = job.xKind === 'f32' ? new Float32Array(job.x, job.xOffset, job.length) : new Float64Array(job.x, job.xOffset, job.length);
  try {
    foldBlocks(sum, x, job.w, job.control, true);
  } catch {
    // A block claimed and not folded: the waiting thread must not wait for it.
    Atomics.store(job.control, FAILED, 1);
    Atomics.notify(job.control, DONE);
  }
  // Every job leaves views of its buffers on this heap, whether or not it got a block.
  seen += job.length * (job.xKind === 'f32' ? 12 : 16);
  if (seen >= RELEASE_BYTES) {
    seen = 0;
    const type = ++collections % FULL_EVERY === 0 ? 'major' : 'minor';
    // After the fold: the waiting thread is not delayed by it.
    setImmediate(() => collect({ type }));
  }
});
port.postMessage('ready');
