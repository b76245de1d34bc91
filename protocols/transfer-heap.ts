import { setFlagsFromString } from 'node:v8';

const GLOBAL_LIMIT_FLAG = 'external-memory-accounted-in-global-limit';

const GROWING_FLAG = 'heap-growing-percent';
/** The heap (now Buffers included) may grow to 1.5x what survived the last full collection. */
const GROWING_PERCENT = 50;

/**
 * Lets V8 collect the transport's short-lived Buffers with the rest of the heap. grpc-js allocates
 * a fresh 1 MiB Buffer per chunk to frame it and another to reassemble it, and the HTTP/2 session
 * one per socket read: ~48 MiB per 16 MiB transfer. Since Node 24 (V8 13.6 raised the young
 * generation, which moved the scavenge that used to free such buffers above V8's fixed 64 MB
 * external-memory trigger; nodejs/node#61967, #63863) they start a full mark-compact every
 * 64 MB instead, one to two per 16 MiB upload on a ~35 MB heap. Counting them in the global heap
 * limit (what upstream V8 has since made the default) measured, per 16 MiB upload, both ends in
 * one process: 14 -> 2-4 ms of collector pauses, CPU 160 -> 100 ms, wall 99 -> 66 ms.
 *
 * Counted that way, the Buffers also grow the limit by V8's dynamic factor (up to 4x a heap whose
 * collector is fast): a coordinator serving 500 sites (bench/load.ts, 10 rounds) sat at ~1,050 MB
 * RSS instead of ~520 MB, 1.45x its round-2 size. Capping growth at 1.5x brought it to 602 MB
 * (1.13x) with the transfer speed kept (16 MiB upload, site in its own process: 298/268 MiB/s
 * capped vs 290/259 uncapped; 64 MiB 353/410 vs 278/252).
 *
 * Process-wide, so it is the process owner's call: the `conclave` command makes it at start, an
 * application embedding the SDK may. Either flag given on the command line wins (as does its --no-).
 */
export function collectTransferBuffersWithHeap(): void {
  const given = (flag: string) => process.execArgv.some((arg) => arg.includes(flag));
  if (!given(GLOBAL_LIMIT_FLAG)) setFlagsFromString(`--${GLOBAL_LIMIT_FLAG}`);
  if (!given(GROWING_FLAG)) setFlagsFromString(`--${GROWING_FLAG}=${GROWING_PERCENT}`);
}
