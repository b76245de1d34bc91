/** L2 clipping of one site's update, the sensitivity bound every DP guarantee here rests on. */
import { invalidParameter } from './errors.ts';

/** Euclidean norm, accumulated in float64 with scaling so huge or tiny components cannot overflow. */
export function l2Norm(v: Float32Array): number {
  let scale = 0;
  let ssq = 1;
  let plain = 0;
  let finite = true;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    plain += x * x;
    if (!Number.isFinite(x)) finite = false;
  }
  if (!finite) return NaN;
  if (plain > 1e-280 && plain < 1e300) return Math.sqrt(plain);
  // Rare path: rescale (LAPACK dnrm2 style) to avoid under/overflow.
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (a === 0) continue;
    if (scale < a) {
      ssq = 1 + ssq * (scale / a) ** 2;
      scale = a;
    } else ssq += (a / scale) ** 2;
  }
  return scale * Math.sqrt(ssq);
}

/** Float32 rounding can lift each component by ≤ 2⁻²⁴ relative; shrink by a little more than that. */
const SAFETY = 1 - 2 ** -21;

/**
 * Scales v in place so that ‖v‖₂ ≤ clipNorm (measured on the float32 result). Returns the norm before
 * clipping and the factor applied (1 when no clipping was needed).
 */
export function clipToNorm(v: Float32Array, clipNorm: number): { norm: number; scale: number } {
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw invalidParameter(`clipNorm must be a positive finite number, got ${String(clipNorm)}`);
  const norm = l2Norm(v);
  if (Number.isNaN(norm)) throw invalidParameter('update contains NaN or infinite values');
  if (norm <= clipNorm) return { norm, scale: 1 };
  let scale = (clipNorm / norm) * SAFETY;
  const original = Float32Array.from(v);
  for (let attempt = 0; attempt < 8; attempt++) {
    for (let i = 0; i < v.length; i++) v[i] = original[i]! * scale;
    if (l2Norm(v) <= clipNorm) return { norm, scale };
    scale *= SAFETY;
  }
  throw invalidParameter('could not clip update to the requested norm');
}
