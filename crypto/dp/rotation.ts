/**
 * The randomized Hadamard rotation x ↦ H·diag(s)·x/√D of the distributed discrete Gaussian
 * (Kairouz, Liu & Steinke, ICML 2021, §4.2): it spreads a vector's norm evenly over its coordinates,
 * so that no single coordinate carries most of the signal and the modular range is used evenly.
 * D is the next power of two ≥ the vector length (zero padding); the signs s come from a PUBLIC
 * 32-byte seed (AES-256-CTR keystream, one bit per coordinate), the same for every site of a round,
 * so the coordinator can undo the rotation of the sum. The rotation is orthogonal: norms are kept.
 */
import { createCipheriv } from 'node:crypto';
import { invalidParameter } from './errors.ts';

export function paddedLength(dim: number): number {
  if (!Number.isSafeInteger(dim) || dim < 1) throw invalidParameter(`the vector length must be a positive integer, got ${String(dim)}`);
  let d = 1;
  while (d < dim) d *= 2;
  return d;
}

function signs(seed: Uint8Array, length: number): Uint8Array {
  if (seed.length !== 32) throw invalidParameter('the rotation seed is 32 bytes');
  return new Uint8Array(createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(new Uint8Array(Math.ceil(length / 8))));
}

/** In-place fast Walsh–Hadamard transform (unnormalised), length a power of two. */
function walshHadamard(v: Float64Array): void {
  const n = v.length;
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j]!;
        const b = v[j + h]!;
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
}

/** H·diag(s)·x/√D of x zero-padded to D = paddedLength(x.length). */
export function rotate(x: ArrayLike<number>, seed: Uint8Array): Float64Array {
  const n = paddedLength(x.length);
  const s = signs(seed, n);
  const v = new Float64Array(n);
  for (let i = 0; i < x.length; i++) v[i] = (s[i >>> 3]! >>> (i & 7)) & 1 ? -x[i]! : x[i]!;
  walshHadamard(v);
  const k = 1 / Math.sqrt(n);
  for (let i = 0; i < n; i++) v[i] = v[i]! * k;
  return v;
}

/** The inverse: diag(s)·H·y/√D, truncated to the first `dim` coordinates. */
export function unrotate(y: ArrayLike<number>, seed: Uint8Array, dim: number): Float64Array {
  const n = y.length;
  if (paddedLength(n) !== n) throw invalidParameter(`a rotated vector's length is a power of two, got ${n}`);
  if (!Number.isSafeInteger(dim) || dim < 1 || dim > n) throw invalidParameter(`dim must be in [1, ${n}], got ${String(dim)}`);
  const s = signs(seed, n);
  const v = Float64Array.from(y);
  walshHadamard(v);
  const k = 1 / Math.sqrt(n);
  const out = new Float64Array(dim);
  for (let i = 0; i < dim; i++) out[i] = (s[i >>> 3]! >>> (i & 7)) & 1 ? -v[i]! * k : v[i]! * k;
  return out;
}
