/**
 * From a float update to Z_{2^32} and back, so that a sum over at most `maxSites` sites can never
 * wrap around. The bound (enforced here, not assumed):
 *   the update is L2-clipped to `clip`, so every coordinate lies in [−clip, clip]; scaled by s and
 *   stochastically rounded it lies in [−M, M] with M = ⌊clip·s⌋ + 1; summed over n ≤ maxSites sites
 *   it lies in [−n·M, n·M] ⊂ [−(2^31 − 1), 2^31 − 1], the range that two's complement uint32 decodes
 *   exactly. So s = ((2^31 − 1)/maxSites − 1)/clip, and dequantize refuses a sum over more sites.
 * Stochastic rounding keeps the quantized value unbiased (E[q] = x·s), so the rounding adds
 * variance but no bias to the average.
 * A malicious site can still send any value in Z_{2^32} (masking hides it, by design); what it can
 * wreck is the round's sum, not another site's privacy.
 */
import { randomFillSync } from 'node:crypto';
import { SecAggError, invalidParameter } from './errors.ts';

const INT32_MAX = 2 ** 31 - 1;

export interface Quantization {
  clip: number;
  scale: number;
  maxSites: number;
}

export function chooseQuantization(clip: number, maxSites: number): Quantization {
  if (!(clip > 0 && Number.isFinite(clip))) throw invalidParameter(`clip must be a positive finite number, got ${clip}`);
  if (!Number.isInteger(maxSites) || maxSites < 1 || maxSites > 1 << 20) throw invalidParameter(`maxSites must be an integer in [1, 2^20], got ${maxSites}`);
  const scale = (INT32_MAX / maxSites - 1) / clip;
  if (!(scale > 0)) throw invalidParameter('too many sites for 32-bit secure aggregation');
  return { clip, scale, maxSites };
}

/** The largest |q| one site's quantized coordinate can take. */
export function perSiteBound(q: Quantization): number {
  return Math.floor(q.clip * q.scale) + 1;
}

/** Fills with uniform uint32; tests pass a seeded one. */
export type RandomFill = (words: Uint32Array) => void;
const cryptoFill: RandomFill = (words) => { randomFillSync(words); };

/** L2-clip, scale, stochastically round; the result is the two's complement residues mod 2^32. */
export function quantize(update: Float32Array, q: Quantization, fill: RandomFill = cryptoFill): Uint32Array {
  let norm2 = 0;
  for (let i = 0; i < update.length; i++) {
    const v = update[i]!;
    if (!Number.isFinite(v)) throw invalidParameter(`update[${i}] is not finite`);
    norm2 += v * v;
  }
  const factor = Math.min(1, q.clip / Math.sqrt(norm2)) * q.scale;
  const bound = perSiteBound(q);
  const out = new Uint32Array(update.length);
  const noise = new Uint32Array(Math.min(update.length, 1 << 16));
  for (let base = 0; base < update.length; base += noise.length) {
    fill(noise);
    const end = Math.min(update.length, base + noise.length);
    for (let i = base; i < end; i++) {
      const x = update[i]! * factor;
      const lo = Math.floor(x);
      let r = lo + (noise[i - base]! / 0x1_0000_0000 < x - lo ? 1 : 0);
      if (r > bound || r < -bound) {
        // Float rounding of the L2 clip can put x an ulp past the integer at ±clip·s, and rounding up
        // then lands one step beyond the bound; the exact value is within it, so that step is taken
        // back (the bound must hold exactly). Anything further off would be a bug, not rounding.
        if (Math.abs(x) > bound * (1 + 1e-9)) throw new SecAggError('SECAGG_OVERFLOW', `quantized coordinate ${r} outside ±${bound}`);
        r = r > 0 ? bound : -bound;
      }
      out[i] = r >>> 0;
    }
  }
  return out;
}

/** The sum over `sites` sites back to floats (Σ of the clipped updates, up to rounding). */
export function dequantizeSum(sum: Uint32Array, sites: number, q: Quantization): Float64Array {
  if (sites > q.maxSites) throw new SecAggError('SECAGG_OVERFLOW', `a sum over ${sites} sites may have wrapped: the quantization is sized for ${q.maxSites}`);
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i]! | 0) / q.scale;
  return out;
}
