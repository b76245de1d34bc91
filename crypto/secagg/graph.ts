/**
 * The sparse communication graph of SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova, CCS 2020,
 * §3.1): a Harary graph H(k, n) on a uniformly random relabelling of the sites, so each site shares
 * keys with only k = O(log n) neighbours. Even k: each site on the ring is joined to the k/2 on
 * either side; odd k (n even): also to the site opposite. The relabelling comes from a public
 * 256-bit seed in the round plan, so every party computes the same graph without asking anyone.
 */
import { createCipheriv } from 'node:crypto';
import { invalidParameter } from './errors.ts';

export interface NeighbourGraph {
  n: number;
  k: number;
  /** neighbours[i]: the k sites i shares keys with, ascending. */
  neighbours: ReadonlyArray<readonly number[]>;
}

/** A uniform permutation of 0..n-1 by Fisher–Yates over an AES-CTR stream, with rejection sampling (no modulo bias). */
function permutation(n: number, seed: Uint8Array): number[] {
  const words = new Uint32Array(Math.max(64, 4 * n));
  const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  let pool = new Uint32Array(0);
  let at = 0;
  const next = (): number => {
    if (at >= pool.length) {
      const bytes = new Uint8Array(cipher.update(Buffer.alloc(words.byteLength)));
      pool = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      at = 0;
    }
    return pool[at++]!;
  };
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const range = i + 1;
    const limit = Math.floor(0x1_0000_0000 / range) * range;
    let r: number;
    do r = next(); while (r >= limit);
    const j = r % range;
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return perm;
}

export function neighbourGraph(n: number, k: number, seed: Uint8Array): NeighbourGraph {
  if (!Number.isInteger(n) || n < 3) throw invalidParameter(`secure aggregation needs at least 3 sites, got ${n}`);
  if (!Number.isInteger(k) || k < 2 || k > n - 1) throw invalidParameter(`k must be an integer in [2, ${n - 1}], got ${k}`);
  if (k % 2 === 1 && n % 2 === 1) throw invalidParameter(`no ${k}-regular graph on ${n} sites exists (k and n both odd)`);
  if (seed.length !== 32) throw invalidParameter('the graph seed is 32 bytes');
  const sets = Array.from({ length: n }, () => new Set<number>());
  if (k === n - 1) {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) sets[i]!.add(j);
  } else {
    const ring = permutation(n, seed);
    const half = Math.floor(k / 2);
    for (let p = 0; p < n; p++) {
      const a = ring[p]!;
      for (let d = 1; d <= half; d++) {
        const b = ring[(p + d) % n]!;
        sets[a]!.add(b);
        sets[b]!.add(a);
      }
      if (k % 2 === 1) sets[a]!.add(ring[(p + n / 2) % n]!);
    }
  }
  return { n, k, neighbours: sets.map((s) => [...s].sort((x, y) => x - y)) };
}
