/**
 * CKKS aggregation cost (crypto/he): what the coordinator pays to sum S sites' encrypted updates of
 * P parameters, against a float32 sum of the same updates in the same run.
 * Run: node_modules/.bin/node bench/ckks.ts --sites 10 --params 1000000 --mode full|seeded --json
 *
 * - serverMs: load (deserialize + check) and add every site's ciphertexts into the running sum;
 * - plainSumMs: the same S updates summed as float32 arrays, no crypto;
 * - expansionFloorMs (seeded): loading the same seeded ciphertexts without adding them, which is
 *   the seed expansion plus parsing: the least any seeded server can pay;
 * - encryptMs, decryptMs: per 1M parameters, one site;
 * - bytesPerParam: serialized ciphertext bytes per parameter on the wire;
 * - maxAbsError: decrypted sum vs the exact float64 sum;
 * - cpuMs: the same phases in process CPU time (all single-threaded), steadier on a shared machine.
 */
import { parseArgs } from 'node:util';
import { Ckks, MAX_FULL_CIPHERTEXT_BYTES, ciphertextCount } from '../crypto/he/ckks.ts';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '10' },
    params: { type: 'string', default: '1000000' },
    mode: { type: 'string', default: 'full' },
    json: { type: 'boolean', default: false },
  },
});
const sites = Number(args.sites);
const params = Number(args.params);
const mode = args.mode;
if (!(Number.isInteger(sites) && sites >= 1) || !(Number.isInteger(params) && params >= 1) || (mode !== 'full' && mode !== 'seeded')) {
  process.stderr.write('usage: bench/ckks.ts --sites N --params P --mode full|seeded [--json]\n');
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

let encryptWall = 0;
let encryptCpu = 0;
const encrypted: Uint8Array[][] = [];
for (const u of updates) {
  const e = timed(() => he.encrypt(keys, u, mode));
  encrypted.push(e.value);
  encryptWall += e.wall;
  encryptCpu += e.cpu;
}
const bytes = encrypted.reduce((n, cts) => n + cts.reduce((m, c) => m + c.length, 0), 0);

const plainSum = timed(() => {
  const plain = new Float32Array(params);
  for (const u of updates) for (let i = 0; i < params; i++) plain[i]! += u[i]!;
  return plain;
});

const floor = mode === 'seeded'
  ? timed(() => { for (const cts of encrypted) for (const c of cts) he.loadCiphertext(c, MAX_FULL_CIPHERTEXT_BYTES).delete(); })
  : undefined;

const acc = he.accumulator(ciphertextCount(params));
const server = timed(() => { for (const cts of encrypted) acc.add(cts); });

const sum = acc.serialize();
acc.delete();
const decryption = timed(() => he.decrypt(keys.secretKey, sum, params));

const exact = new Float64Array(params);
for (const u of updates) for (let i = 0; i < params; i++) exact[i]! += u[i]!;
let maxAbsError = 0;
for (let i = 0; i < params; i++) maxAbsError = Math.max(maxAbsError, Math.abs(decryption.value[i]! - exact[i]!));
he.delete();

const perMillion = 1e6 / params;
const result = {
  node: process.version, sites, params, mode,
  serverMs: round(server.wall), plainSumMs: round(plainSum.wall), serverOverPlain: round(server.wall / plainSum.wall),
  ...(floor ? { expansionFloorMs: round(floor.wall), serverOverFloor: round(server.wall / floor.wall) } : {}),
  encryptMs: round((encryptWall / sites) * perMillion), decryptMs: round(decryption.wall * perMillion),
  cpuMs: {
    server: round(server.cpu), plainSum: round(plainSum.cpu), ...(floor ? { expansionFloor: round(floor.cpu) } : {}),
    encrypt: round((encryptCpu / sites) * perMillion), decrypt: round(decryption.cpu * perMillion),
  },
  bytesPerParam: round(bytes / (sites * params)), maxAbsError,
};
process.stdout.write(args.json ? JSON.stringify(result) + '\n' : JSON.stringify(result, null, 2) + '\n');

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
