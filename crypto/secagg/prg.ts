/**
 * Mask expansion: a full 256-bit seed keys AES-256-CTR (zero IV, used once per key), whose
 * keystream read as little-endian uint32 is the mask in Z_{2^32}. Flower folds its seeds to 32 bits
 * before expanding, which leaves 2^32 candidate masks to a brute-force search; here the seed is
 * the whole key.
 *
 * Speed (bench/secagg.ts): node:crypto's AES-256-CTR costs ~2 ms per 1M words here and a JavaScript
 * add loop 1.5–2 ms, so the adds matter as much as the cipher. applyMasks therefore walks the
 * vector in blocks that stay in cache, draws the keystream of every term for a block, and folds
 * four streams per pass over the block (measured 0.7 ms per stream per 1M words, against 1.7 for one
 * stream per pass): float64 sums of five int32 values are exact, and `| 0` reduces them mod 2^32.
 * A range [from, to) starts each keystream at block from/4 (CTR is seekable), so disjoint ranges of
 * one vector can be expanded by different threads with the same result.
 */
import { createCipheriv, type Cipheriv } from 'node:crypto';
import { invalidParameter } from './errors.ts';

// 64K words (256 KiB) per block: measured the fastest size for node's cipher.update here; a block
// of the target plus four keystream blocks stay within L2.
const BLOCK_WORDS = 1 << 16;
const zeros = Buffer.alloc(BLOCK_WORDS * 4);

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

function keystream(cipher: Cipheriv, n: number): Int32Array {
  let bytes: Uint8Array = cipher.update(zeros.subarray(0, n * 4));
  // Small outputs may be slices of Node's shared pool at any byte offset: copy those to align them.
  if (bytes.byteOffset % 4 !== 0) bytes = new Uint8Array(bytes);
  return new Int32Array(bytes.buffer, bytes.byteOffset, n);
}

function add4(t: Int32Array, o: number, a: Int32Array, b: Int32Array, c: Int32Array, d: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]! + b[i]! + c[i]! + d[i]!) | 0;
}
function sub4(t: Int32Array, o: number, a: Int32Array, b: Int32Array, c: Int32Array, d: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! - a[i]! - b[i]! - c[i]! - d[i]!) | 0;
}
function add1(t: Int32Array, o: number, a: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! + a[i]!) | 0;
}
function sub1(t: Int32Array, o: number, a: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) t[o + i] = (t[o + i]! - a[i]!) | 0;
}

/** Folds the keystreams of `ciphers` (all of one sign) into t[o, o + n). */
function fold(t: Int32Array, o: number, ciphers: readonly Cipheriv[], sign: 1 | -1, n: number): void {
  let c = 0;
  for (; c + 4 <= ciphers.length; c += 4) {
    const a = keystream(ciphers[c]!, n);
    const b = keystream(ciphers[c + 1]!, n);
    const d = keystream(ciphers[c + 2]!, n);
    const e = keystream(ciphers[c + 3]!, n);
    if (sign === 1) add4(t, o, a, b, d, e, n);
    else sub4(t, o, a, b, d, e, n);
  }
  for (; c < ciphers.length; c++) {
    const a = keystream(ciphers[c]!, n);
    if (sign === 1) add1(t, o, a, n);
    else sub1(t, o, a, n);
  }
}

/**
 * target[from, to) ← target + Σ sign·PRG(seed)[from, to) mod 2^32, in place. `from` is a multiple
 * of 4 (an AES block boundary); the default range is the whole vector.
 */
export function applyMasks(target: Uint32Array, terms: readonly MaskTerm[], from = 0, to = target.length): void {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > target.length || from > to) {
    throw invalidParameter(`the range [${from}, ${to}) is not within a vector of ${target.length}`);
  }
  if (from % 4 !== 0) throw invalidParameter(`a mask range starts on a multiple of 4 words, got ${from}`);
  const plus = terms.filter((m) => m.sign === 1).map((m) => cipherAt(m.seed, from));
  const minus = terms.filter((m) => m.sign === -1).map((m) => cipherAt(m.seed, from));
  if (plus.length + minus.length !== terms.length) throw invalidParameter('a mask sign is 1 or −1');
  // Int32 views: `(a + b) | 0` stays in V8's integer fast path; the residues mod 2^32 are the same.
  const t = new Int32Array(target.buffer, target.byteOffset, target.length);
  for (let o = from; o < to; o += BLOCK_WORDS) {
    const n = Math.min(BLOCK_WORDS, to - o);
    fold(t, o, plus, 1, n);
    fold(t, o, minus, -1, n);
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
