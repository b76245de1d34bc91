/**
 * CKKS aggregation cost (crypto/he): what the coordinator pays to sum S sites' encrypted updates of
 * P parameters, against a float32 sum of the same updates in the same run.
 * Run: node_modules/.bin/node bench/ckks.ts --sites 10 --params 1000000 --mode full|seeded --json
 *
 * - serverMs: load (deserialize + check) and add every site's ciphertexts into the running sum;
 * - plainSumMs: the same S updates summed as float32 arrays, no crypto;
 * - expansionFloorMs (seeded): loading the same seeded ciphertexts without adding them, which is
 *   the seed expansion plus parsing: the least any seeded server can pay;
 * - encryptMs, decryptMs: per 1M parameters, one site (encryption on --encrypt-workers threads, or
 *   `auto`: the SDK's default, which times one thread against a pool of 2 on the first updates and
 *   keeps the faster: encryptChoice; its encryptMs then includes the trials and the pool's start-up);
 *   each thread is warmed up first (a site's runtime lives across rounds);
 * - bytesPerParam: serialized ciphertext bytes per parameter on the wire;
 * - maxAbsError: decrypted sum vs the exact float64 sum;
 * - cpuMs: the same phases in process CPU time (all single-threaded), steadier on a shared machine;
 * - coldServerMs: the first accumulation of the process, which also grows the WebAssembly heap and
 *   SEAL's memory pool (a coordinator pays it once: the heap never shrinks). serverMs and the ratios
 *   are the steady state: the median over --repeat passes after that first one, each pass timing
 *   the server, the plain sum and the floor back to back so that their ratios share one load.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Ckks, MAX_FULL_CIPHERTEXT_BYTES, ciphertextCount } from '../crypto/he/ckks.ts';
import { HeEncryptPool, HeEncryption } from '../client-sdk/protection/he-encrypt-pool.ts';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '10' },
    params: { type: 'string', default: '1000000' },
    mode: { type: 'string', default: 'full' },
    repeat: { type: 'string', default: '5' },
    'encrypt-workers': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const sites = Number(args.sites);
const params = Number(args.params);
const mode = args.mode;
const repeat = Number(args.repeat);
const encryptWorkers = args['encrypt-workers'] === 'auto' ? 'auto' : Number(args['encrypt-workers']);
if (!(Number.isInteger(sites) && sites >= 1) || !(Number.isInteger(params) && params >= 1) || (mode !== 'full' && mode !== 'seeded') || !(Number.isInteger(repeat) && repeat >= 1) || !(encryptWorkers === 'auto' || (Number.isInteger(encryptWorkers) && encryptWorkers >= 1))) {
  process.stderr.write('usage: bench/ckks.ts --sites N --params P --mode full|seeded [--repeat 5] [--encrypt-workers 1|W|auto] [--json]\n');
  process.exit(2);
}

const he = await Ckks.create();
const keys = he.generateKeys();
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const updates = Array.from({ length: sites }, () => Float32Array.from({ length: params }, () => rand() * 0.1));

/** Wall and CPU time of `fn`: on a shared machine the CPU time (one thread) is the steadier figure. */
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wall, cpu: (cpu.user + cpu.system) / 1000 };
}

/** As timed(), for a promise: CPU time is the whole process's, worker threads included. */
async function timedAsync<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wall, cpu: (cpu.user + cpu.system) / 1000 };
}

// With --encrypt-workers W > 1 a site encrypts on W threads (client-sdk/protection/he-encrypt-pool.ts);
// with `auto`, as the SDK does by default (HeEncryption), and a pool of 2 is timed beside it.
const pool = encryptWorkers === 'auto' || encryptWorkers > 1 ? new HeEncryptPool(encryptWorkers === 'auto' ? 2 : encryptWorkers) : null;
const auto = encryptWorkers === 'auto' ? new HeEncryption(async () => he, 'auto') : null;
// Every thread warm: each compiles its own SEAL WebAssembly, whose hot functions V8 tiers up only
// after some work (a site's runtime lives across rounds, so its first encryption is not the norm).
he.encrypt(keys, updates[0]!, mode);
if (pool) for (let i = 0; i < 2; i++) await pool.encrypt(keys, Float64Array.from(updates[0]!), mode);
let encryptWall = 0;
let encryptCpu = 0;
const encrypted: Uint8Array[][] = [];
for (const u of updates) {
  const e = auto ? await timedAsync(() => auto.encrypt(keys, Float64Array.from(u), mode))
    : pool ? await timedAsync(() => pool.encrypt(keys, Float64Array.from(u), mode)) : timed(() => he.encrypt(keys, u, mode));
  encrypted.push(e.value);
  encryptWall += e.wall;
  encryptCpu += e.cpu;
}
// With a pool, the same updates on one thread, interleaved site by site so both share the machine's load.
const pairs: Array<{ single: number; pooled: number }> = [];
if (pool) {
  for (const u of updates.slice(0, Math.min(sites, 3))) {
    const single = timed(() => he.encrypt(keys, u, mode)).wall;
    pairs.push({ single, pooled: (await timedAsync(() => pool.encrypt(keys, Float64Array.from(u), mode))).wall });
  }
}
await pool?.close();
await auto?.close();
const bytes = encrypted.reduce((n, cts) => n + cts.reduce((m, c) => m + c.length, 0), 0);

function plainSumOnce() {
  return timed(() => {
    const plain = new Float32Array(params);
    for (const u of updates) for (let i = 0; i < params; i++) plain[i]! += u[i]!;
    return plain;
  });
}
function floorOnce() {
  return timed(() => { for (const cts of encrypted) for (const c of cts) he.loadCiphertext(c, MAX_FULL_CIPHERTEXT_BYTES).delete(); });
}
/** One accumulation of every site's ciphertexts; returns the serialized sum and the timing. */
function serverOnce() {
  const acc = he.accumulator(ciphertextCount(params));
  try {
    const t = timed(() => { for (const cts of encrypted) acc.add(cts); });
    return { ...t, sum: acc.serialize() };
  } finally {
    acc.delete();
  }
}

const cold = serverOnce();
const passes = Array.from({ length: repeat }, () => {
  const server = serverOnce();
  const plain = plainSumOnce();
  const floor = mode === 'seeded' ? floorOnce() : undefined;
  return { server, plain, floor };
});
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sum = cold.sum;
const decryption = timed(() => he.decrypt(keys.secretKey, sum, params));

const exact = new Float64Array(params);
for (const u of updates) for (let i = 0; i < params; i++) exact[i]! += u[i]!;
let maxAbsError = 0;
for (let i = 0; i < params; i++) maxAbsError = Math.max(maxAbsError, Math.abs(decryption.value[i]! - exact[i]!));
he.delete();

const perMillion = 1e6 / params;
const result = {
  node: process.version, sites, params, mode, repeat, encryptWorkers, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  serverMs: round(median(passes.map((p) => p.server.wall))), plainSumMs: round(median(passes.map((p) => p.plain.wall))),
  serverOverPlain: round(median(passes.map((p) => p.server.wall / p.plain.wall))),
  ...(mode === 'seeded' ? {
    expansionFloorMs: round(median(passes.map((p) => p.floor!.wall))), serverOverFloor: round(median(passes.map((p) => p.server.wall / p.floor!.wall))),
  } : {}),
  coldServerMs: round(cold.wall),
  encryptMs: round((encryptWall / sites) * perMillion), decryptMs: round(decryption.wall * perMillion),
  // The pool against one thread on the same updates, measured side by side (wall, per 1M parameters).
  ...(pool ? {
    encryptOneThreadMs: round(median(pairs.map((p) => p.single)) * perMillion), encryptPoolMs: round(median(pairs.map((p) => p.pooled)) * perMillion),
    poolSpeedup: round(median(pairs.map((p) => p.single / p.pooled))),
  } : {}),
  ...(auto ? { encryptChoice: auto.chosen ?? 'thread (update below the pool threshold or one core)', encryptTrialsMsPerCiphertext: auto.trialTimes } : {}),
  cpuMs: {
    server: round(median(passes.map((p) => p.server.cpu))), plainSum: round(median(passes.map((p) => p.plain.cpu))),
    serverOverPlain: round(median(passes.map((p) => p.server.cpu / p.plain.cpu))),
    ...(mode === 'seeded' ? { expansionFloor: round(median(passes.map((p) => p.floor!.cpu))), serverOverFloor: round(median(passes.map((p) => p.server.cpu / p.floor!.cpu))) } : {}),
    coldServer: round(cold.cpu), encrypt: round((encryptCpu / sites) * perMillion), decrypt: round(decryption.cpu * perMillion),
  },
  bytesPerParam: round(bytes / (sites * params)), maxAbsError,
};
process.stdout.write(args.json ? JSON.stringify(result) + '\n' : JSON.stringify(result, null, 2) + '\n');

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
