/**
 * The coordinator's unmask step on every core: share reconstruction and key agreement here, then the
 * mask expansion split by coordinate range over crypto/parallel/'s MaskExpansionPool (shared with the site
 * SDK's masking). A coordinator keeps one pool across rounds (no idle end): its threads are warm.
 */
import { invalidParameter } from '../../crypto/secagg/errors.ts';
import {
  reconstructAll, unmaskTerms, type Advertisement, type Revealed, type Round,
} from '../../crypto/secagg/round.ts';
import type { MaskExpansionPool } from '../../crypto/parallel/mask-expansion-pool.ts';

/** crypto/secagg unmaskSum with the mask expansion spread over `pool`. */
export async function unmaskSumParallel(pool: MaskExpansionPool, round: Round, sum: Uint32Array, advertisements: ReadonlyMap<number, Advertisement>, u2: ReadonlySet<number>, survivors: readonly number[], revealed: ReadonlyMap<number, Revealed>): Promise<Uint32Array> {
  if (sum.length !== round.length) throw invalidParameter(`the sum has ${sum.length} elements, the round ${round.length}`);
  const { selfSeeds, maskKeys } = await reconstructAll(round, advertisements, u2, survivors, revealed);
  await pool.apply(sum, unmaskTerms(round, advertisements, u2, survivors, selfSeeds, maskKeys));
  return sum;
}
