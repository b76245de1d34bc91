/**
 * The adds of mask expansion as one WebAssembly SIMD loop (i32x4.add / i32x4.sub: four words per
 * instruction, wrapping mod 2^32 like `| 0`). No cryptography here: the keystream still comes from
 * node:crypto's AES-256-CTR (prg.ts); this only folds blocks of it into the target.
 *
 * Why: a JavaScript add loop does one word per step with bounds checks, ~0.75 ns per word and
 * stream; the cipher costs about the same, so the adds were half of every expansion. The module is
 * ~130 bytes, built below from its instructions (no toolchain, nothing fetched), and validated by
 * WebAssembly itself when compiled.
 *
 * Layout of the instance's own memory (16 pages, 1 MiB): slot 0 holds a copy of the target block,
 * slots 1–8 the keystream blocks of one pass, slot 9 stays zero (stands in for a missing stream).
 * A slot is SLOT_BYTES; callers copy in and out with typed-array set() (memcpy, within L2).
 */

/** Bytes per slot: 16K words, prg.ts's block. */
export const SLOT_BYTES = 1 << 16;
export const ZERO_SLOT = 9;

const u32leb = (x: number): number[] => {
  const out: number[] = [];
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x !== 0) b |= 0x80;
    out.push(b);
  } while (x !== 0);
  return out;
};
const section = (id: number, body: number[]): number[] => [id, ...u32leb(body.length), ...body];

const I32 = 0x7f;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_GE_U = 0x4f;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
// SIMD prefix 0xfd; memarg: align 2^4 (slots are 16-byte aligned), offset 0.
const V128_LOAD = [0xfd, 0x00, 0x04, 0x00], V128_STORE = [0xfd, 0x0b, 0x04, 0x00];
const I32X4_ADD = [0xfd, ...u32leb(0xae)], I32X4_SUB = [0xfd, ...u32leb(0xb1)];

/**
 * fold(t, a, b, c, d, e, f, g, h, bytes): for i in [0, bytes) step 16,
 *   t[i] ← t[i] + a[i] + b[i] + c[i] + d[i] − e[i] − f[i] − g[i] − h[i]   (byte offsets, i32x4 lanes)
 */
function moduleBytes(): Uint8Array {
  const P = 10; // params t, a..h, bytes; local 10 is the loop index
  const at = (p: number) => [LOCAL_GET, p, LOCAL_GET, P, I32_ADD, ...V128_LOAD];
  const body = [
    1, 1, I32, // one local: the index
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, P, LOCAL_GET, 9, I32_GE_U, BR_IF, 1,
    LOCAL_GET, 0, LOCAL_GET, P, I32_ADD, // the store's address
    ...at(0),
    ...at(1), ...I32X4_ADD, ...at(2), ...I32X4_ADD, ...at(3), ...I32X4_ADD, ...at(4), ...I32X4_ADD,
    ...at(5), ...I32X4_SUB, ...at(6), ...I32X4_SUB, ...at(7), ...I32X4_SUB, ...at(8), ...I32X4_SUB,
    ...V128_STORE,
    LOCAL_GET, P, I32_CONST, 16, I32_ADD, LOCAL_SET, P,
    BR, 0, END, END, END,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, P, ...Array<number>(P).fill(I32), 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 16]),
    ...section(7, [2, 1, 0x6d, 0x02, 0, 1, 0x66, 0x00, 0]),
    ...section(10, [1, ...u32leb(body.length), ...body]),
  ]);
}

type Fold = (t: number, a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, bytes: number) => void;

export interface SimdFold {
  /** The instance's memory as words; slot s starts at word s · SLOT_BYTES / 4. */
  readonly words: Int32Array;
  readonly fold: Fold;
}

/** The slice of the WebAssembly API used here (our lib settings carry no WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { m: { buffer: ArrayBuffer }; f: Fold } };
}
const Wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let instance: SimdFold | null | undefined;

/**
 * This thread's instance (made on first use; every thread has its own module state, and applyMasks
 * is synchronous, so one instance is never used by two calls at once), or null where WebAssembly
 * SIMD is unavailable or refused (prg.ts then adds in JavaScript).
 */
export function simdFold(): SimdFold | null {
  if (instance === undefined) {
    try {
      if (!Wasm) throw new Error('no WebAssembly');
      const exports = new Wasm.Instance(new Wasm.Module(moduleBytes())).exports;
      instance = { words: new Int32Array(exports.m.buffer), fold: exports.f };
    } catch {
      instance = null;
    }
  }
  return instance;
}

/**
 * s ← s + v mod 2^32 (equal lengths) through the kernel, block by block; false, with s untouched,
 * where the kernel is unavailable. A sum of uploads in memory is bound by reading them, but the
 * JavaScript loop was slower still: 70 adds of 1M words, 66–71 ms CPU against 83–99.
 */
export function addWithKernel(s: Int32Array, v: Int32Array): boolean {
  const k = simdFold();
  if (!k) return false;
  const words = SLOT_BYTES / 4;
  const zero = ZERO_SLOT * SLOT_BYTES;
  for (let o = 0; o < s.length; o += words) {
    const n = Math.min(words, s.length - o);
    k.words.set(s.subarray(o, o + n), 0);
    k.words.set(v.subarray(o, o + n), words);
    k.fold(0, SLOT_BYTES, zero, zero, zero, zero, zero, zero, zero, 4 * n);
    s.set(k.words.subarray(0, n), o);
  }
  return true;
}
