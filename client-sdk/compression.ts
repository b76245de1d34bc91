/**
 * The site's half of update compression (protocols/update-codec.ts has the wire formats). The
 * round plan says which encoding the federation uses; top-k keeps what it leaves out and adds it
 * to the next round's update (error feedback: Stich et al. 2018, Karimireddy et al. 2019), so
 * every coordinate's mass reaches the aggregate eventually instead of being dropped for good.
 * The residual lives in this object's memory only, for as long as the Participant runs.
 */
import {
  ConclaveError, encodeQ8, encodeTopK, layoutElements, topKCount, topKIndices,
  type EncodedUpdate, type TensorSpec, type UpdateCompressionMsg,
} from '../protocols/index.ts';

export class UpdateCompressor {
  private residual: Float32Array | null = null;
  private readonly random: () => number;

  /** `random`: uniform in [0, 1), for q8's stochastic rounding (injectable for tests). */
  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  /** What top-k left out so far (a copy), or null. */
  pending(): Float32Array | null {
    return this.residual ? this.residual.slice() : null;
  }

  /** The update as the plan asks it to be encoded. Top-k updates the residual; the others clear it. */
  encode(delta: Float32Array, layout: TensorSpec[], plan: UpdateCompressionMsg | null | undefined): EncodedUpdate {
    const kind = plan?.kind ?? '';
    if (kind === '' || kind === 'none') {
      this.residual = null;
      return { encoding: '', layout, values: delta, q8Scales: [] };
    }
    if (kind === 'q8') {
      this.residual = null;
      return encodeQ8(delta, layout, this.random);
    }
    if (kind !== 'topk') throw new ConclaveError('INVALID_ARGUMENT', `this SDK does not know the update compression "${kind.slice(0, 32)}"`);
    const ratio = plan!.topkRatio;
    if (!(ratio > 0 && ratio <= 1)) throw new ConclaveError('INVALID_ARGUMENT', `the plan's top-k ratio must be in (0, 1], got ${ratio}`);
    const n = layoutElements(layout);
    if (delta.length !== n) throw new ConclaveError('LAYOUT_MISMATCH', `layout describes ${n} elements, the delta has ${delta.length}`);
    // A residual of another model (the federation changed architecture) does not carry over.
    const v = Float32Array.from(delta);
    if (this.residual?.length === n) for (let i = 0; i < n; i++) v[i]! += this.residual[i]!;
    const indices = topKIndices(v, topKCount(n, ratio));
    const encoded = encodeTopK(v, indices);
    for (const i of indices) v[i] = 0;
    this.residual = v;
    return encoded;
  }
}
