/**
 * The site half of client-level DP, applied to the trained delta before any protection protocol
 * sees it: clip to the plan's C (McMahan et al. 2018), then, under local DP, add the site's own
 * Gaussian noise. Under distributed DP the noise is discrete and added by secure aggregation's first
 * stage as it encodes the update (protection/secagg.ts, crypto/dp/ddg.ts): here it is only clipped.
 * The plan's numbers were already held to the site's floor.
 */
import { ConclaveError, type RoundPlanMsg } from '../protocols/index.ts';
import { addGaussianNoise, clipToNorm, clippedIndicator } from '../crypto/dp/index.ts';
import { siteReleaseStd } from './privacy-policy.ts';

export interface Privatized {
  delta: Float32Array;
  /** Adaptive clipping (Andrew et al. 2021): whether clipping left the delta unchanged, when the plan asks. */
  unclipped: boolean;
}

export function privatize(delta: Float32Array, plan: RoundPlanMsg): Privatized {
  const dp = plan.dp;
  if (!dp) return { delta, unclipped: false };
  if (!['central', 'distributed', 'local'].includes(dp.mode)) throw new ConclaveError('INVALID_ARGUMENT', `unknown DP mode "${dp.mode.slice(0, 32)}"`);
  if (!(dp.clipNorm > 0)) throw new ConclaveError('INVALID_ARGUMENT', 'the round plan has no valid clip norm');
  const { norm } = clipToNorm(delta, dp.clipNorm);
  const unclipped = dp.reportUnclipped && clippedIndicator(norm, dp.clipNorm) === 1;
  if (dp.mode === 'distributed') {
    // Only secure aggregation adds the discrete noise: any other protection would send the bare clipped update.
    if (plan.protectionPlan?.params !== 'secagg' || !(dp.granularity > 0)) {
      throw new ConclaveError('INVALID_ARGUMENT', 'a distributed DP round needs secure aggregation and a discrete Gaussian plan (granularity); this site will not send its update without them');
    }
    return { delta, unclipped: false };
  }
  if (dp.mode !== 'central') {
    if (!(dp.siteNoiseStd > 0)) throw new ConclaveError('INVALID_ARGUMENT', `a ${dp.mode} DP round needs a positive site noise std`);
    // Never less than the multiplier the plan charges claims, whichever of the plan's numbers is larger.
    addGaussianNoise(delta, siteReleaseStd(dp));
  }
  return { delta, unclipped };
}
