import { setFlagsFromString } from 'node:v8';

const GLOBAL_LIMIT_FLAG = 'external-memory-accounted-in-global-limit';

/**
 * Lets V8 collect the transport's short-lived Buffers with the rest of the heap. grpc-js allocates
 * a fresh 1 MiB Buffer per chunk to frame it and another to reassemble it, and the HTTP/2 session
 * one per socket read: ~48 MiB per 16 MiB transfer. Since Node 24 (V8 13.6 raised the young
 * generation, which moved the scavenge that used to free such buffers above V8's fixed 64 MB
 * external-memory trigger; nodejs/node#61967, #63863) they start a full mark-compact every
 * 64 MB instead, one to two per 16 MiB upload on a ~35 MB heap. Counting them in the global heap
 * limit (what upstream V8 has since made the default) measured, per 16 MiB upload, both ends in
 * one process: 14 -> 2-4 ms of collector pauses, CPU 160 -> 100 ms, wall 99 -> 66 ms; the process
 * holds ~60-100 MB more between collections (RSS plateaus at 450-520 MB instead of 400-450 MB).
 * Process-wide, so it is the process owner's call: the `conclave` command makes it at start, an
 * application embedding the SDK may. An explicit `--no-external-memory-...` on the command line wins.
 */
export function collectTransferBuffersWithHeap(): void {
  if (process.execArgv.some((arg) => arg.includes(GLOBAL_LIMIT_FLAG))) return;
  setFlagsFromString(`--${GLOBAL_LIMIT_FLAG}`);
}
