/**
 * SecAgg+ cost at scale, one process, real crypto (crypto/secagg/): n sites with a model of P
 * parameters, k neighbours and threshold t; a `dropout` fraction of the sites drops after sharing
 * keys (the coordinator's worst case: each dropped site's pairwise masks must be rebuilt from its
 * reconstructed key). Prints JSON:
 *   serverMs    Σ of the masked inputs + share reconstruction + mask removal (what the coordinator does:
 *               unmaskSumParallel's steps, timed apart as reconstructMs, agreeMs and the expansion), the
 *               expansion spread over a MaskExpansionPool (one thread per core, --threads N extra ones)
 *   plainSumMs  a float32 sum of as many plain updates, same run
 *   floorMs     the bare AES-CTR expansions + adds the coordinator cannot avoid, same run, on the
 *               same threads (floorSingleThreadMs: on one)
 *   siteMaskMs  one site's masking (share decryption, key agreement, k + 1 expansions, in place on its
 *               quantized input), per 1M parameters, through the SDK's SiteMasking on one thread;
 *               siteMaskPooledMs the same on its threads (siteThreads: the caller's + --site-threads N
 *               extra, default one per core but one); same sites, same run, the order alternating per
 *               site, the results compared bit for bit
 *   bytesPerParam  what one site sends over all four stages, per parameter
 * Run: node bench/secagg.ts --sites 100 --params 1000000 --k 21 --t 11 --dropout 0.3 --json
 */
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { randomBytes, randomInt } from 'node:crypto';
import { SiteMasking } from '../client-sdk/protection/secagg-masking.ts';
import { MaskExpansionPool } from '../crypto/parallel/mask-expansion-pool.ts';
import { keyedRound } from '../crypto/secagg/keyed-round.fixture.ts';
import {
  addInto, applyMasks, reconstructAll, unmaskTerms, chooseParameters, droppedPartners, missingShares, revealShares, setupRound,
  type Revealed,
} from '../crypto/secagg/index.ts';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '100' }, params: { type: 'string', default: '1000000' }, k: { type: 'string' }, t: { type: 'string' },
    dropout: { type: 'string', default: '0.3' }, json: { type: 'boolean', default: false }, threads: { type: 'string' }, 'site-threads': { type: 'string' },
  },
});
const n = Number(args.sites);
const params = Number(args.params);
const dropout = Number(args.dropout);
const chosen = chooseParameters({ n, dropoutRate: dropout, colluders: 0 });
const k = args.k ? Number(args.k) : chosen.k;
const t = args.t ? Number(args.t) : chosen.t;
const length = params + 1;
const round = setupRound({ roundId: 'bench', n, k, t, graphSeed: randomBytes(32), length });
const loadBefore = loadavg().map((x) => +x.toFixed(2));
const log = (m: string) => { if (!args.json) process.stderr.write(`${m}\n`); };

// The coordinator keeps its expansion threads across rounds: started before timing, and warmed by a
// pass of 128 masks at the round's size, as after a first round. A cold worker's first pass of
// ~500 masks measured 2× its CPU time of the next: its allocator grows by the gigabyte of keystream
// blocks that die between collections (page faults), once.
const pool = new MaskExpansionPool(args.threads === undefined ? undefined : Number(args.threads));
await pool.apply(new Uint32Array(params + 1), Array.from({ length: 128 }, (_, i) => ({ seed: randomBytes(32), sign: i % 2 ? 1 : -1 })));
// A site's masking threads (minLength 1: always pooled), warmed below by one untimed site.
const siteMasking = new SiteMasking({ minLength: 1, ...(args['site-threads'] === undefined ? {} : { maskWorkers: Number(args['site-threads']) }) });

// advertise-keys and share-keys, every site.
const { secrets, ads, inbox } = await keyedRound(round);
// What one site sends before its masked input: three keys, and one sealed share (+ its two indices) per neighbour.
let keyBytes = 3 * 32;
for (const bySender of inbox.values()) {
  const c = bySender.get(0);
  if (c) keyBytes += c.length + 8;
}

// Dropouts: a random `dropout` share of the sites goes silent after sharing keys. A draw that
// leaves some needed secret without t holders would abort the round; those draws are counted.
const dropCount = Math.round(dropout * n);
let survivors: number[] = [];
let infeasibleDraws = 0;
for (;;) {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  survivors = order.slice(dropCount).sort((a, b) => a - b);
  if (!missingShares(round, new Set(order), survivors, new Set(survivors))) break;
  if (++infeasibleDraws >= 1000) throw new Error(`k = ${k}, t = ${t}: 1000 random draws of ${dropCount} dropouts all abort`);
}
const u2 = new Set(Array.from({ length: n }, (_, i) => i));
const dropped = [...u2].filter((i) => !survivors.includes(i));
log(`n=${n} P=${params} k=${k} t=${t}: ${survivors.length} survivors (${infeasibleDraws} infeasible draws skipped)`);

// masked-input: each survivor masks a random quantized update; the coordinator only ever holds the running sum.
const sum = new Uint32Array(length);
const expected = new Uint32Array(length);
const masked: Uint32Array[] = [];
let siteMs = 0;
let siteCpuMs = 0;
// A full collection before each timed phase, so that no phase pays for another's garbage (the site
// stages leave gigabytes of keystream behind; V8's background GC threads count in process CPU time).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** CPU time of the process (every thread) in ms: on a shared machine wall time also counts other processes' turns. */
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const oneThread = new SiteMasking({ maskWorkers: 0 });
await siteMasking.mask(round, secrets[survivors[0]!]!, ads, inbox.get(survivors[0]!)!, new Uint32Array(length));
let sitePooledMs = 0;
let sitePooledCpuMs = 0;
// Main-thread garbage collection inside the sites' timed sections (the bench's own vectors are
// garbage too): pauses whose start falls in a window are charged to it.
const gcPauses: Array<{ start: number; duration: number }> = [];
const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, duration: e.duration }); });
gcObserver.observe({ entryTypes: ['gc'] });
const siteWindows: Array<{ from: number; to: number }> = [];
for (const [at, i] of survivors.entries()) {
  const x = new Uint32Array(randomBytes(4 * length).buffer);
  // The site's own path (client-sdk SiteMasking): its quantized input, already in memory, masked in place.
  const single = x.slice();
  const pooled = x.slice();
  // One thread and the pool on the same site, in alternating order: a loaded machine's swings hit both.
  for (const path of at % 2 ? ['pooled', 'single'] : ['single', 'pooled']) {
    const t0 = performance.now();
    const c0 = cpu();
    if (path === 'single') {
      await oneThread.mask(round, secrets[i]!, ads, inbox.get(i)!, single);
      siteMs += performance.now() - t0;
      siteCpuMs += cpu() - c0;
    } else {
      await siteMasking.mask(round, secrets[i]!, ads, inbox.get(i)!, pooled);
      sitePooledMs += performance.now() - t0;
      sitePooledCpuMs += cpu() - c0;
    }
    siteWindows.push({ from: t0, to: performance.now() });
  }
  for (let j = 0; j < length; j++) if (single[j] !== pooled[j]) throw new Error(`site ${i}: the pooled masking differs from one thread's at ${j}`);
  masked.push(single);
  addInto(expected, x);
}
await new Promise((resolve) => setImmediate(resolve));
gcObserver.disconnect();
const siteGcMs = gcPauses.filter((p) => siteWindows.some((w) => p.start >= w.from && p.start < w.to)).reduce((sum, p) => sum + p.duration, 0);
// The coordinator's running sum, timed apart from the sites' work (whose garbage would land in it).
collectGarbage();
const t1 = performance.now();
const c1 = cpu();
for (const y of masked) addInto(sum, y);
const collectMs = performance.now() - t1;
const collectCpuMs = cpu() - c1;
masked.length = 0;

// unmask: survivors reveal; the coordinator reconstructs and removes the masks.
const revealed = new Map<number, Revealed>();
let revealBytes = 0;
for (const i of survivors) {
  const r = revealShares(round, secrets[i]!, { survivors, dropped });
  revealed.set(i, r);
  if (i === survivors[0]) revealBytes = (r.seedShares.size + r.keyShares.size) * (33 + 6);
}
collectGarbage();
const t2 = performance.now();
const c2 = cpu();
// unmaskSumParallel's three steps, timed apart.
const { selfSeeds, maskKeys } = await reconstructAll(round, ads, u2, survivors, revealed);
const reconstructMs = performance.now() - t2;
const reconstructCpuMs = cpu() - c2;
const terms = unmaskTerms(round, ads, u2, survivors, selfSeeds, maskKeys);
const agreeMs = performance.now() - t2 - reconstructMs;
const agreeCpuMs = cpu() - c2 - reconstructCpuMs;
await pool.apply(sum, terms);
const result = sum;
const unmaskMs = performance.now() - t2;
const unmaskCpuMs = cpu() - c2;
for (let j = 0; j < length; j++) if (result[j] !== expected[j]) throw new Error(`unmasked sum differs from the survivors' sum at ${j}`);

// The floor: the same number of expansions + adds, with no reconstruction and no key agreement.
const expansions = survivors.length + [...droppedPartners(round, u2, survivors).values()].reduce((s, p) => s + p.length, 0);
const scratch = new Uint32Array(length);
const floorTerms = Array.from({ length: expansions }, () => ({ seed: new Uint8Array(randomBytes(32)), sign: 1 as const }));
collectGarbage();
const t3 = performance.now();
const c3 = cpu();
for (let s = 0; s < survivors.length; s++) addInto(scratch, expected);
const floorAddsMs = performance.now() - t3;
const floorAddsCpuMs = cpu() - c3;
await pool.apply(scratch, floorTerms);
const floorMs = performance.now() - t3;
const floorCpuMs = cpu() - c3;
collectGarbage();
const t5 = performance.now();
const c5 = cpu();
applyMasks(scratch, floorTerms);
const floorSingleThreadMs = floorAddsMs + performance.now() - t5;
const floorSingleThreadCpuMs = floorAddsCpuMs + cpu() - c5;
// A plain float32 sum of as many updates (fresh vectors of the full size, summed the way protection "none" folds them).
const updates = Array.from({ length: 4 }, () => Float32Array.from({ length: params }, () => Math.random()));
const acc = new Float64Array(params);
collectGarbage();
const t4 = performance.now();
const c4 = cpu();
for (let s = 0; s < survivors.length; s++) {
  const u = updates[s % updates.length]!;
  for (let j = 0; j < params; j++) acc[j]! += u[j]!;
}
const plainSumMs = performance.now() - t4;
const plainSumCpuMs = cpu() - c4;

const out = {
  sites: n, params, k, t, dropout, survivors: survivors.length, infeasibleDraws, expansions,
  serverMs: Math.round(collectMs + unmaskMs), collectMs: Math.round(collectMs), unmaskMs: Math.round(unmaskMs),
  reconstructMs: Math.round(reconstructMs), agreeMs: Math.round(agreeMs),
  plainSumMs: Math.round(plainSumMs), floorMs: Math.round(floorMs), floorSingleThreadMs: Math.round(floorSingleThreadMs),
  threads: pool.threads + 1, serverOverFloor: Number(((collectMs + unmaskMs) / floorMs).toFixed(3)),
  siteMaskMs: Math.round((siteMs / survivors.length) * (1e6 / params)),
  siteMaskPooledMs: Math.round((sitePooledMs / survivors.length) * (1e6 / params)), siteThreads: siteMasking.workers + 1,
  cpuMs: {
    server: Math.round(collectCpuMs + unmaskCpuMs), collect: Math.round(collectCpuMs), reconstruct: Math.round(reconstructCpuMs), agree: Math.round(agreeCpuMs), plainSum: Math.round(plainSumCpuMs), floor: Math.round(floorCpuMs), floorSingleThread: Math.round(floorSingleThreadCpuMs),
    siteMask: Math.round((siteCpuMs / survivors.length) * (1e6 / params)), siteMaskPooled: Math.round((sitePooledCpuMs / survivors.length) * (1e6 / params)),
    // Main-thread GC pauses inside both site paths' sections, per site-path and 1M parameters.
    siteMaskGc: Math.round((siteGcMs / (2 * survivors.length)) * (1e6 / params)),
  },
  loadAverage1m5m15m: { before: loadBefore, after: loadavg().map((x) => +x.toFixed(2)) },
  bytesPerParam: Number(((4 * length + keyBytes + revealBytes) / params).toFixed(4)),
  chosen: Object.fromEntries([100, 1000].flatMap((nn) => [0.1, 0.3].map((d) => [`n=${nn},dropout=${d}`, chooseParameters({ n: nn, dropoutRate: d, colluders: 0 })]))),
};
process.stdout.write(JSON.stringify(out, null, args.json ? 0 : 2) + '\n');
await pool.close();
await siteMasking.close();
