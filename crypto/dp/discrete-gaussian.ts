/**
 * Exact sampling from the discrete Gaussian N_Z(0, σ²) — P[X = x] ∝ exp(−x²/(2σ²)) on the integers —
 * by Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020,
 * Algorithms 1–3): Bernoulli(exp(−γ)) from Bernoulli(γ/k) trials, a discrete Laplace proposal of
 * integer scale t = ⌊σ⌋ + 1, and rejection with probability exp(−(|Y| − σ²/t)²/(2σ²)).
 *
 * Exactness is the point (floating-point noise leaks the low bits of what it hides, Mironov CCS
 * 2012): every Bernoulli here has a rational parameter n/d and is decided by comparing uniform random
 * bits with the binary expansion of n/d, in exact integer arithmetic — Numbers while every
 * intermediate value stays below 2^52, BigInt beyond. σ² is taken as a rational p/q, rounded UP from
 * the requested float (relative change below 2^-16), so the noise is never smaller than accounted.
 *
 * Random bits come from node:crypto (randomFillSync) unless a seeded source is passed (tests only).
 */
import { createCipheriv, randomFillSync } from 'node:crypto';
import { invalidParameter } from './errors.ts';

/** A stream of uniform 32-bit words. */
export interface RandomSource {
  uint32(): number;
}

const POOL_WORDS = 4096;

/** Uniform words from node:crypto, drawn a pool at a time. */
export class CryptoRandom implements RandomSource {
  #pool = new Uint32Array(POOL_WORDS);
  #at = POOL_WORDS;
  uint32(): number {
    if (this.#at === POOL_WORDS) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    return this.#pool[this.#at++]!;
  }
}

/** A reproducible stream (AES-256-CTR keystream under a 32-byte seed), for seeded tests. */
export class SeededRandom implements RandomSource {
  #cipher;
  #pool = new Uint32Array(POOL_WORDS);
  #at = POOL_WORDS;
  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw invalidParameter('a random seed is 32 bytes');
    this.#cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  }
  uint32(): number {
    if (this.#at === POOL_WORDS) {
      const bytes = this.#cipher.update(new Uint8Array(4 * POOL_WORDS));
      this.#pool.set(new Uint32Array(bytes.buffer, bytes.byteOffset, POOL_WORDS));
      this.#at = 0;
    }
    return this.#pool[this.#at++]!;
  }
}

/** Single random bits, 32 per word drawn. */
class Bits {
  #word = 0;
  #left = 0;
  readonly source: RandomSource;
  constructor(source: RandomSource) {
    this.source = source;
  }
  bit(): number {
    if (this.#left === 0) {
      this.#word = this.source.uint32();
      this.#left = 32;
    }
    this.#left--;
    const b = this.#word & 1;
    this.#word >>>= 1;
    return b;
  }
}

const SAFE = 2 ** 52;

/**
 * Bernoulli(n/d) for integers 0 ≤ n ≤ d, d ≤ 2^52: walk the binary expansion of n/d against fresh
 * uniform bits; the first position where they differ decides (expected two bits).
 */
function bernoulliNumber(bits: Bits, n: number, d: number): boolean {
  if (n >= d) return true;
  let r = n;
  for (;;) {
    r *= 2;
    const digit = r >= d ? 1 : 0;
    if (digit) r -= d;
    const u = bits.bit();
    if (u !== digit) return u < digit;
    if (r === 0) return false; // n/d's expansion ended: the uniform is ≥ it
  }
}

function bernoulliBig(bits: Bits, n: bigint, d: bigint): boolean {
  if (n >= d) return true;
  let r = n;
  for (;;) {
    r *= 2n;
    const digit = r >= d ? 1 : 0;
    if (digit) r -= d;
    const u = bits.bit();
    if (u !== digit) return u < digit;
    if (r === 0n) return false;
  }
}

/** Bernoulli(exp(−n/d)), n/d ∈ [0, 1] (CKS Algorithm 1): K odd where K counts Bernoulli(γ/k) successes + 1. */
function bernoulliExpUnitNumber(bits: Bits, n: number, d: number): boolean {
  let k = 1;
  // d·k stays below 2^52: the loop runs past k with probability 1/k!, so k ≤ 30 in any real run.
  while (d * k < SAFE && bernoulliNumber(bits, n, d * k)) k++;
  if (d * k >= SAFE) return bernoulliExpUnitBig(bits, BigInt(n), BigInt(d), k);
  return k % 2 === 1;
}

function bernoulliExpUnitBig(bits: Bits, n: bigint, d: bigint, from = 1): boolean {
  let k = from;
  while (bernoulliBig(bits, n, d * BigInt(k))) k++;
  return k % 2 === 1;
}

/** Bernoulli(exp(−n/d)) for any n/d ≥ 0: ⌊n/d⌋ Bernoulli(e^−1) trials, then the fractional part. */
function bernoulliExpNumber(bits: Bits, n: number, d: number): boolean {
  const whole = Math.floor(n / d);
  // n/d in floating point can round up across an integer; the remainder decides exactly.
  let w = whole;
  let r = n - w * d;
  if (r < 0) { w--; r += d; }
  else if (r >= d) { w++; r -= d; }
  for (let i = 0; i < w; i++) if (!bernoulliExpUnitNumber(bits, 1, 1)) return false;
  return bernoulliExpUnitNumber(bits, r, d);
}

function bernoulliExpBig(bits: Bits, n: bigint, d: bigint): boolean {
  const w = n / d;
  for (let i = 0n; i < w; i++) if (!bernoulliExpUnitNumber(bits, 1, 1)) return false;
  return bernoulliExpUnitBig(bits, n - w * d, d);
}

/** Uniform on {0, …, m − 1}, m ≤ 2^32, by rejection (no modulo bias). */
function uniformBelow(source: RandomSource, m: number): number {
  const limit = Math.floor(0x1_0000_0000 / m) * m;
  for (;;) {
    const r = source.uint32();
    if (r < limit) return r % m;
  }
}

/** σ² as a rational p/q ≥ the requested σ², q a power of two, p about 2^16 or more. */
export interface RationalVariance {
  p: number;
  q: number;
}

export function rationalVariance(sigma: number): RationalVariance {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw invalidParameter(`the discrete Gaussian's σ must be a positive finite number, got ${String(sigma)}`);
  const s2 = sigma * sigma;
  if (!(s2 < SAFE)) throw invalidParameter(`the discrete Gaussian's σ² must be below 2^52, got ${s2}`);
  let q = 1;
  while (s2 * q < 65536) q *= 2;
  // ceil of the exact product (s2·q is exact: q is a power of two and s2·q ≥ 2^16 stays well inside float range).
  return { p: Math.ceil(s2 * q), q };
}

/** One draw from N_Z(0, p/q) (CKS Algorithm 3 over Algorithm 2). */
function sampleOne(bits: Bits, v: RationalVariance, t: number): number {
  const { p, q } = v;
  for (;;) {
    // Discrete Laplace of scale t (Algorithm 2).
    const u = uniformBelow(bits.source, t);
    if (!bernoulliExpNumber(bits, u, t)) continue;
    let g = 0;
    while (bernoulliExpUnitNumber(bits, 1, 1)) g++;
    const x = u + t * g;
    const negative = bits.bit() === 1;
    if (negative && x === 0) continue;
    // Accept with probability exp(−(x − σ²/t)²/(2σ²)) = exp(−(x·q·t − p)²/(2·p·q·t²)).
    const a = x * q * t - p;
    const n = a * a;
    const d = 2 * p * q * t * t;
    let accept: boolean;
    if (Math.abs(x * q * t) + p < 2 ** 26 && d < SAFE / 64) accept = bernoulliExpNumber(bits, n, d);
    else {
      const ab = BigInt(x) * BigInt(q) * BigInt(t) - BigInt(p);
      accept = bernoulliExpBig(bits, ab * ab, 2n * BigInt(p) * BigInt(q) * BigInt(t) * BigInt(t));
    }
    if (accept) return negative ? -x : x;
  }
}

/**
 * Fills `out` with independent draws from N_Z(0, σ²) (σ² rounded up to rationalVariance(σ)).
 * Values are integers, exactly representable in float64 for any σ accepted.
 */
export function fillDiscreteGaussian(out: Float64Array | Int32Array, sigma: number, random: RandomSource = new CryptoRandom()): void {
  const v = rationalVariance(sigma);
  const t = Math.floor(Math.sqrt(v.p / v.q)) + 1;
  const bits = new Bits(random);
  for (let i = 0; i < out.length; i++) out[i] = sampleOne(bits, v, t);
}

/** `count` draws from N_Z(0, σ²). */
export function discreteGaussianSamples(count: number, sigma: number, random?: RandomSource): Float64Array {
  if (!Number.isSafeInteger(count) || count < 0) throw invalidParameter(`count must be a non-negative integer, got ${String(count)}`);
  const out = new Float64Array(count);
  fillDiscreteGaussian(out, sigma, random);
  return out;
}
