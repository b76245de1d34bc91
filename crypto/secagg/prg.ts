/**
 * Mask expansion: a full 256-bit seed keys AES-256-CTR (zero IV, used once per key), whose
 * keystream read as little-endian uint32 is the mask in Z_{2^32}. Flower folds its seeds to 32 bits
 * before expanding, which leaves 2^32 candidate masks to a brute-force search; here the seed is
 * the whole key.
 *
 * Speed (bench/secagg.ts, BENCHMARKS.md): node:crypto's AES-256-CTR in 64 KiB calls costs ~0.8 ms
 * per 1M words here when each output block is freed as soon as it is used (release() below; left
 * to the collector it was ~2×). The adds, as costly as the cipher in JavaScript (~0.75 ms per stream
 * per 1M words, one word per step), run in WebAssembly SIMD (simd-fold.ts): each keystream block is
 * copied into the kernel's memory and up to four streams of each sign are folded into the target
 * block per i32x4 pass. Together ~0.9 ms CPU per 1M-word expansion, against ~2.6 ms before.
 * A range [from, to) starts each keystream at AES block from/4 (CTR is seekable), so disjoint ranges of
 * one vector can be expanded by different threads with the same result.
 */
import { createCipheriv, type Cipheriv } from 'node:crypto';
import { invalidParameter } from './errors.ts';
import { simdFold, SLOT_BYTES, ZERO_SLOT, type SimdFold } from './simd-fold.ts';

// 16K words (64 KiB) per block. Each cipher.update allocates its output: at 256 KiB, above glibc's
// mmap threshold (128 KiB), every block was fresh zeroed pages (25–50% of the CPU time in page
// faults); below it freed blocks are recycled. A call costs ~1.6 µs besides its bytes, so 64 KiB
// beat 32 KiB by 6–7% (22 masks of 1M words, interleaved, CPU time); the target's block and eight
// keystream blocks (576 KiB) stay within L2.
const BLOCK_WORDS = 1 << 14;
const zeros = Buffer.alloc(BLOCK_WORDS * 4);
/** Stands in for a missing stream in a pass (adding it is adding 0). */
const ZERO_STREAM = new Int32Array(BLOCK_WORDS);

/** One mask to add (sign 1) or subtract (sign −1). */
export interface MaskTerm {
  seed: Uint8Array;
  sign: 1 | -1;
}

function cipherAt(seed: Uint8Array, fromWord: number): Cipheriv {
  if (seed.length !== 32) throw invalidParameter(`a mask seed is 32 bytes, got ${seed.length}`);
  // The 128-bit big-endian counter of AES block fromWord/4 (4 words per 16-byte block; a typed
  // array holds under 2^32 words, so the block index fits the low 32 bits).
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(fromWord / 4, 12);
  return createCipheriv('aes-256-ctr', seed, iv);
}

function keystream(cipher: Cipheriv | undefined, n: number): Int32Array {
  if (!cipher) return ZERO_STREAM;
  let bytes: Uint8Array = cipher.update(zeros.subarray(0, n * 4));
  // Small outputs may be slices of Node's shared pool at any byte offset: copy those to align them.
  if (bytes.byteOffset % 4 !== 0) bytes = new Uint8Array(bytes);
  return new Int32Array(bytes.buffer, bytes.byteOffset, n);
}

/**
 * Frees a keystream block now rather than at the next garbage collection. Left to the collector,
 * tens of megabytes of blocks die between collections, so a new block is memory out of cache and
 * the collector has that much more to sweep; detached, a block's memory is reused for the next one
 * while still in L2 (measured: 104 expansions of 1M words in 64 KiB calls, 78–88 ms CPU released
 * against 150–300 not). Only a block that owns its whole ArrayBuffer is detached, never a slice of
 * Node's shared pool (slices are under half the pool, so never a whole buffer). Node 24's pool is
 * 64 KiB: an earlier test `byteLength > Buffer.poolSize` left every 64 KiB block to the collector.
 */
function release(block: Int32Array): void {
  const buffer = block.buffer;
  if (block !== ZERO_STREAM && buffer instanceof ArrayBuffer && block.byteOffset === 0 && block.byteLength === buffer.byteLength && buffer.byteLength >= 4096) {
    // ArrayBuffer.prototype.transfer (ES2024, Node ≥ 21) detaches it; the lib here is ES2023.
    (buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
  }
}

// Float64 sums of nine int32 values are exact (|Σ| < 2^35), and `| 0` reduces them mod 2^32.
function fold8(t: Int32Array, o: number, a: Int32Array, b: Int32Array, c: Int32Array, d: Int32Array, e: Int32Array, f: Int32Array, g: Int32Array, h: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]! + b[i]! + c[i]! + d[i]! - e[i]! - f[i]! - g[i]! - h[i]!) | 0;
}
function add4(t: Int32Array, o: number, a: Int32Array, b: Int32Array, c: Int32Array, d: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]! + b[i]! + c[i]! + d[i]!) | 0;
}
function sub4(t: Int32Array, o: number, a: Int32Array, b: Int32Array, c: Int32Array, d: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! - a[i]! - b[i]! - c[i]! - d[i]!) | 0;
}

/**
 * Folds the keystreams of `plus` and `minus` into t[o, o + n), four of each sign per pass over the
 * block (a missing stream reads as zeros): 22 masks, 11 of each sign, take 3 passes.
 */
function fold(t: Int32Array, o: number, plus: readonly Cipheriv[], minus: readonly Cipheriv[], n: number): void {
  for (let at = 0; at < plus.length || at < minus.length; at += 4) {
    const a = keystream(plus[at], n), b = keystream(plus[at + 1], n), c = keystream(plus[at + 2], n), d = keystream(plus[at + 3], n);
    const e = keystream(minus[at], n), f = keystream(minus[at + 1], n), g = keystream(minus[at + 2], n), h = keystream(minus[at + 3], n);
    if (at >= minus.length) add4(t, o, a, b, c, d, n);
    else if (at >= plus.length) sub4(t, o, e, f, g, h, n);
    else fold8(t, o, a, b, c, d, e, f, g, h, n);
    release(a); release(b); release(c); release(d); release(e); release(f); release(g); release(h);
  }
}

const SLOT_WORDS = SLOT_BYTES / 4;

/**
 * fold() with the adds in WebAssembly SIMD (simd-fold.ts): the target block is copied into the
 * kernel's memory once, each keystream block copied in as it comes (a memcpy within L2, ~3× cheaper
 * than the JavaScript add it replaces) into one of eight slots, and each pass of up to four of each
 * sign is one i32x4 loop; the block is copied back at the end.
 */
function foldSimd(k: SimdFold, t: Int32Array, o: number, plus: readonly Cipheriv[], minus: readonly Cipheriv[], n: number): void {
  k.words.set(t.subarray(o, o + n), 0);
  const slot = (cipher: Cipheriv | undefined, s: number): number => {
    if (!cipher) return ZERO_SLOT * SLOT_BYTES;
    const block = keystream(cipher, n);
    k.words.set(block, s * SLOT_WORDS);
    release(block);
    return s * SLOT_BYTES;
  };
  for (let at = 0; at < plus.length || at < minus.length; at += 4) {
    k.fold(0, slot(plus[at], 1), slot(plus[at + 1], 2), slot(plus[at + 2], 3), slot(plus[at + 3], 4),
      slot(minus[at], 5), slot(minus[at + 1], 6), slot(minus[at + 2], 7), slot(minus[at + 3], 8), 4 * n);
  }
  t.set(k.words.subarray(0, n), o);
}

/**
 * target[from, to) ← target + Σ sign·PRG(seed)[from, to) mod 2^32, in place. `from` is a multiple
 * of 4 (an AES block boundary); the default range is the whole vector. The adds run in WebAssembly
 * SIMD where it is available, else in JavaScript (`simd: false` forces that; same result).
 */
export function applyMasks(target: Uint32Array, terms: readonly MaskTerm[], from = 0, to = target.length, simd = true): void {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > target.length || from > to) {
    throw invalidParameter(`the range [${from}, ${to}) is not within a vector of ${target.length}`);
  }
  if (from % 4 !== 0) throw invalidParameter(`a mask range starts on a multiple of 4 words, got ${from}`);
  const plus = terms.filter((m) => m.sign === 1).map((m) => cipherAt(m.seed, from));
  const minus = terms.filter((m) => m.sign === -1).map((m) => cipherAt(m.seed, from));
  if (plus.length + minus.length !== terms.length) throw invalidParameter('a mask sign is 1 or −1');
  // Int32 views: `(a + b) | 0` stays in V8's integer fast path; the residues mod 2^32 are the same.
  const t = new Int32Array(target.buffer, target.byteOffset, target.length);
  const k = simd ? simdFold() : null;
  for (let o = from; o < to; o += BLOCK_WORDS) {
    if (k) foldSimd(k, t, o, plus, minus, Math.min(BLOCK_WORDS, to - o));
    else fold(t, o, plus, minus, Math.min(BLOCK_WORDS, to - o));
  }
}

/** The mask itself (tests and small vectors; the hot paths add or subtract in place). */
export function expandMask(seed: Uint8Array, length: number): Uint32Array {
  const out = new Uint32Array(length);
  applyMasks(out, [{ seed, sign: 1 }]);
  return out;
}

/** target ← target + sign·PRG(seed) mod 2^32, in place. */
export function addMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  applyMasks(target, [{ seed, sign }]);
}
