/**
 * Cryptographically secure Gaussian noise (never Math.random).
 *
 * Uniforms: 53 random bits per double from node:crypto, u = (k + ½)/2⁵³ ∈ (0, 1), so log(u) is finite
 * and every representable grid point is equally likely. Normals: Box–Muller, two per pair of uniforms
 * (no rejection, so a batch consumes a fixed number of random bytes).
 *
 * Floating-point caveat (Mironov, "On Significance of the Least Significant Bits for Differential
 * Privacy", CCS 2012): noise built from floating-point transforms of uniforms is not exactly Gaussian;
 * its support is porous and which low-order bits of (value + noise) can occur depends on value, which
 * can leak the un-noised value. What we do: full 53-bit uniforms (not 32-bit), all arithmetic in float64,
 * and the noised result is rounded to float32 — a grid ~2²⁹ times coarser than the noise's float64
 * resolution, which removes the low-order bits the attack reads. This is a mitigation, not a proof;
 * a provable fix needs integer (discrete Gaussian, Canonne–Kamath–Steinke 2020) noise on a fixed-point
 * encoding, which the secure-aggregation path would have to adopt.
 */
import { randomFillSync } from 'node:crypto';
import { invalidParameter } from './errors.ts';

const BATCH = 4096; // normals per refill; must be even
const TWO_POW_M53 = 2 ** -53;

function checkStd(std: number): void {
  if (typeof std !== 'number' || !Number.isFinite(std) || std < 0) throw invalidParameter(`std must be a finite number ≥ 0, got ${String(std)}`);
}

/** Fills out[0..n) with standard normals (n even or odd). */
function fillStandardNormals(out: Float64Array, n: number): void {
  const words = new Uint32Array(2 * BATCH); // 2 words per uniform, 1 uniform per normal
  for (let done = 0; done < n; done += BATCH) {
    const m = Math.min(BATCH, n - done);
    const pairs = (m + 1) >>> 1;
    randomFillSync(words.subarray(0, 4 * pairs));
    for (let p = 0; p < pairs; p++) {
      const w = 4 * p;
      // 27 + 26 = 53 bits each.
      const u1 = ((words[w]! >>> 5) * 67108864 + (words[w + 1]! >>> 6) + 0.5) * TWO_POW_M53;
      const u2 = ((words[w + 2]! >>> 5) * 67108864 + (words[w + 3]! >>> 6) + 0.5) * TWO_POW_M53;
      const r = Math.sqrt(-2 * Math.log(u1));
      const t = 2 * Math.PI * u2;
      const i = done + 2 * p;
      out[i] = r * Math.cos(t);
      if (i + 1 < done + m) out[i + 1] = r * Math.sin(t);
    }
  }
}

/** n independent N(0, std²) samples. */
export function gaussianSamples(n: number, std: number): Float64Array {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidParameter(`n must be a non-negative integer, got ${String(n)}`);
  checkStd(std);
  const out = new Float64Array(n);
  if (std === 0 || n === 0) return out;
  fillStandardNormals(out, n);
  for (let i = 0; i < n; i++) out[i] = out[i]! * std;
  return out;
}

/** values[i] += N(0, std²) in place (the sum is formed in float64, then rounded to float32). */
export function addGaussianNoise(values: Float32Array, std: number): void {
  checkStd(std);
  if (std === 0) return;
  const buf = new Float64Array(BATCH);
  for (let start = 0; start < values.length; start += BATCH) {
    const m = Math.min(BATCH, values.length - start);
    fillStandardNormals(buf, m);
    for (let i = 0; i < m; i++) values[start + i] = values[start + i]! + std * buf[i]!;
  }
}
