/**
 * Does the coordinator's CKKS fold pay on worker threads? (issue 9: "both cores used where it
 * pays"). Times the module the coordinator runs (coordinator/protection/he-fold-pool.ts): W threads
 * each keep a running sum of the sites' seeded ciphertexts they are handed (the upload read in place
 * from the SharedArrayBuffer the gRPC endpoint assembles it in), and at the stage's end the W
 * partial sums come back serialized and are folded into one on the main thread. Compared, pass by
 * pass, with the inline fold (foldThreads 0).
 * Run: node_modules/.bin/node bench/ckks-fold.ts --sites 10 --params 1000000 [--workers 2] [--repeat 3] [--json]
 *
 * - inline: main-thread CPU and wall of loading and adding every site's ciphertexts;
 * - pooled: wall, the main thread's own CPU (hand-off and the final merge: what stays on the
 *   thread that also serves gRPC), and the process's CPU (all threads: the total work).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Ckks, MAX_FULL_CIPHERTEXT_BYTES, ciphertextCount, packCiphertexts, unpackCiphertexts } from '../crypto/he/ckks.ts';
import { HeFoldPool } from '../coordinator/protection/he-fold-pool.ts';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '10' },
    params: { type: 'string', default: '1000000' },
    workers: { type: 'string', default: '2' },
    repeat: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const sites = Number(args.sites);
const params = Number(args.params);
const workerCount = Number(args.workers);
const repeat = Number(args.repeat);
const count = ciphertextCount(params);
const he = await Ckks.create();

if (![sites, params, workerCount, repeat].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write('usage: bench/ckks-fold.ts --sites N --params P [--workers 2] [--repeat 3] [--json]\n');
  process.exit(2);
}
const keys = he.generateKeys();
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const uploads = Array.from({ length: sites }, () => packCiphertexts(he.encrypt(keys, Float32Array.from({ length: params }, () => rand() * 0.1), 'seeded')));
const pool = new HeFoldPool(workerCount);
const threadCpu = () => { const c = process.threadCpuUsage(); return (c.user + c.system) / 1000; };
const processCpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };

const inline = () => {
  const t0 = performance.now();
  const c0 = threadCpu();
  const acc = he.accumulator(count);
  for (const u of uploads) acc.add(unpackCiphertexts(u, count, MAX_FULL_CIPHERTEXT_BYTES));
  const sum = acc.serialize();
  acc.delete();
  return { wall: performance.now() - t0, mainCpu: threadCpu() - c0, sum };
};
const pooled = async () => {
  // Uploads of 4 MiB or more reach the stage in a SharedArrayBuffer (the endpoint's assembler): made before timing.
  const owned = uploads.map((u) => {
    const shared = new Uint8Array(new SharedArrayBuffer(u.length));
    shared.set(u);
    return shared;
  });
  const t0 = performance.now();
  const c0 = threadCpu();
  const p0 = processCpu();
  const folds = pool.sum(count);
  await Promise.all(owned.map((u) => folds.add(u)));
  const partials = await folds.take();
  folds.drop();
  const acc = he.accumulator(count);
  for (const p of partials) acc.add(p);
  const sum = acc.serialize();
  acc.delete();
  return { wall: performance.now() - t0, mainCpu: threadCpu() - c0, processCpu: processCpu() - p0, sum };
};

// First passes grow each thread's WebAssembly heap and tier its code up: not timed.
inline();
await pooled();
const passes: Array<{ inline: ReturnType<typeof inline>; pooled: Awaited<ReturnType<typeof pooled>> }> = [];
for (let r = 0; r < repeat; r++) passes.push({ inline: inline(), pooled: await pooled() });
// Same sum either way (ciphertext addition is exact modular arithmetic, in any order).
const same = passes.every((p) => p.inline.sum.length === p.pooled.sum.length && p.inline.sum.every((c, i) => Buffer.from(c).equals(Buffer.from(p.pooled.sum[i]!))));
await pool.close();
he.delete();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
const round = (x: number) => Math.round(x * 10) / 10;
const result = {
  node: process.version, sites, params, workers: workerCount, repeat, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  inline: { wallMs: round(median(passes.map((p) => p.inline.wall))), mainThreadCpuMs: round(median(passes.map((p) => p.inline.mainCpu))) },
  pooled: {
    wallMs: round(median(passes.map((p) => p.pooled.wall))), mainThreadCpuMs: round(median(passes.map((p) => p.pooled.mainCpu))),
    processCpuMs: round(median(passes.map((p) => p.pooled.processCpu))),
  },
  wallSpeedup: Math.round(median(passes.map((p) => p.inline.wall / p.pooled.wall)) * 100) / 100,
  sameSum: same,
};
process.stdout.write(args.json ? JSON.stringify(result) + '\n' : JSON.stringify(result, null, 2) + '\n');
