/** Front door used by the privacy-budget ledger: one call per question, either accountant. */
import { DpError, assertDelta, invalidParameter } from './errors.ts';
import { bucketEvents, samplingOf, validateEvents } from './events.ts';
import type { AccountantKind, GaussianEvent } from './events.ts';
import { pldEpsilon } from './pld.ts';
import type { PldOptions } from './pld.ts';
import { RdpAccountant } from './rdp.ts';

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
   * Above this many distinct (σ, q) the events are pessimistically bucketed (σ down, q up) — for both
   * accountants — so that 10⁴ continuously varying rounds stay fast (default 64).
   */
  maxDistinctEvents?: number;
}

export function computeEpsilon(events: GaussianEvent[], delta: number, accountant: AccountantKind, options?: ComputeOptions): EpsilonResult {
  const valid = validateEvents(events);
  assertDelta(delta);
  const kind = checkKind(accountant);
  if (kind === 'pld') return { epsilon: pldEpsilon(valid, delta, options), accountant: 'pld' };
  const acc = new RdpAccountant();
  for (const e of bucketEvents(valid, options?.maxDistinctEvents ?? 64)) acc.compose(e);
  const { epsilon, order } = acc.epsilon(delta);
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
  const eps = (sigma: number): number => computeEpsilon(eventAt(sigma), delta, kind).epsilon;

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
