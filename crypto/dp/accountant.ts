/**
 * Front door used by the privacy-budget ledger: one call per question, either accountant.
 *
 * Both accountants return upper bounds on ε and never less than the exact composition of the events:
 *  - ε = +∞ where σ = 0 or σ is too small for the loss 1/(2σ²) to be a float64 (isUnboundedNoise); no
 *    σ > 0 is rejected as such, and any other σ gets a finite ε (RDP) or, where its grid cannot hold the
 *    loss, a DP_NUMERICAL error from PLD (tightestEpsilon and calibration then rely on RDP);
 *  - RDP is exact up to 256 distinct events and, above, within ~0.2% of exact (rdp-compose.ts);
 *  - PLD is exact up to 256 distinct events and, above, a looser bucketed bound (pld.ts).
 */
import { DpError, assertDelta, invalidParameter } from './errors.ts';
import { samplingOf, validateEvents } from './events.ts';
import type { AccountantKind, GaussianEvent } from './events.ts';
import { pldEpsilon } from './pld.ts';
import type { PldOptions } from './pld.ts';
import { rdpEpsilon } from './rdp-compose.ts';

export interface EpsilonResult {
  epsilon: number;
  accountant: AccountantKind;
  /** RDP order that attained the minimum (RDP only). */
  order?: number;
}

export interface TightestEpsilonResult {
  epsilon: number;
  accountant: AccountantKind;
  rdp: number;
  /** null when the PLD accountant does not support the events (sampling without replacement). */
  pld: number | null;
  order: number;
}

function checkKind(kind: unknown): AccountantKind {
  if (kind !== 'rdp' && kind !== 'pld') throw invalidParameter(`accountant must be 'rdp' or 'pld', got ${String(kind)}`);
  return kind;
}

export interface ComputeOptions extends PldOptions {
  /**
   * Up to this many distinct (σ, q) the composition is exact. Above it, RDP interpolates A_α on a grid
   * (a certified upper bound within ~0.2%) and PLD buckets pessimistically (σ down, q up), so that 10⁴
   * continuously varying rounds stay fast. Default 256.
   */
  maxDistinctEvents?: number;
}

export function computeEpsilon(events: GaussianEvent[], delta: number, accountant: AccountantKind, options?: ComputeOptions): EpsilonResult {
  const valid = validateEvents(events);
  assertDelta(delta);
  const kind = checkKind(accountant);
  if (kind === 'pld') return { epsilon: pldEpsilon(valid, delta, options), accountant: 'pld' };
  const { epsilon, order } = rdpEpsilon(valid, delta, options?.maxDistinctEvents === undefined ? undefined : { exactDistinct: options.maxDistinctEvents });
  return { epsilon, accountant: 'rdp', order };
}

/** Runs both accountants (both are upper bounds) and reports the smaller. */
export function tightestEpsilon(events: GaussianEvent[], delta: number): TightestEpsilonResult {
  const valid = validateEvents(events);
  assertDelta(delta);
  const rdp = computeEpsilon(valid, delta, 'rdp');
  const pldSupported = valid.every((e) => samplingOf(e) === 'poisson');
  const pld = pldSupported ? pldOrNull(valid, delta) : null;
  const usePld = pld !== null && pld < rdp.epsilon;
  return {
    epsilon: usePld ? pld : rdp.epsilon,
    accountant: usePld ? 'pld' : 'rdp',
    rdp: rdp.epsilon,
    pld,
    order: rdp.order ?? NaN,
  };
}

/** PLD where its grid can represent the loss; RDP alone otherwise (both are upper bounds). */
function pldOrNull(events: GaussianEvent[], delta: number): number | null {
  try {
    return computeEpsilon(events, delta, 'pld').epsilon;
  } catch (err) {
    if (err instanceof DpError && err.code === 'DP_NUMERICAL') return null;
    throw err;
  }
}

export interface CalibrationRequest {
  targetEpsilon: number;
  delta: number;
  sampleRate: number;
  rounds: number;
  accountant: AccountantKind;
  sampling?: 'poisson' | 'without-replacement';
}

const SIGMA_MIN = 1e-3;
const SIGMA_MAX = 1e4;

/**
 * Smallest noise multiplier σ (to 1e-4 relative) such that `rounds` rounds at `sampleRate` give
 * ε ≤ targetEpsilon. ε is non-increasing in σ, so bisection on log σ; the value returned always
 * satisfies the target (it is the upper end of the final bracket).
 */
export function calibrateNoiseMultiplier(req: CalibrationRequest): number {
  const { targetEpsilon, delta, sampleRate, rounds } = req;
  const kind = checkKind(req.accountant);
  if (!(targetEpsilon > 0) || !Number.isFinite(targetEpsilon)) {
    throw invalidParameter(`targetEpsilon must be a positive finite number, got ${String(targetEpsilon)}`);
  }
  assertDelta(delta);
  const eventAt = (sigma: number): GaussianEvent[] => [
    { noiseMultiplier: sigma, sampleRate, count: rounds, ...(req.sampling ? { sampling: req.sampling } : {}) },
  ];
  validateEvents(eventAt(1));
  // Where an accountant cannot certify σ (PLD's grid cannot hold a nearly noiseless loss), count it as
  // ε = ∞: bisection then keeps to σ it can certify, so the σ returned always meets the target.
  const eps = (sigma: number): number => {
    try {
      return computeEpsilon(eventAt(sigma), delta, kind).epsilon;
    } catch (err) {
      if (err instanceof DpError && err.code === 'DP_NUMERICAL') return Infinity;
      throw err;
    }
  };

  // Bracket [lo, hi] with ε(lo) > target ≥ ε(hi), starting from σ = 1.
  let lo = 1;
  let hi = 1;
  if (eps(1) <= targetEpsilon) {
    do {
      hi = lo;
      lo = hi / 2;
      if (lo < SIGMA_MIN) return hi;
    } while (eps(lo) <= targetEpsilon);
  } else {
    do {
      lo = hi;
      hi = lo * 2;
      if (hi > SIGMA_MAX) {
        throw new DpError(
          'DP_UNREACHABLE',
          `target epsilon ${targetEpsilon} at delta ${delta} is not reachable with noise multiplier ≤ ${SIGMA_MAX} ` +
            `for ${rounds} rounds at sample rate ${sampleRate} (${kind} accountant)`,
        );
      }
    } while (eps(hi) > targetEpsilon);
  }
  while (hi / lo > 1 + 1e-4) {
    const mid = Math.sqrt(lo * hi);
    if (eps(mid) > targetEpsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}
