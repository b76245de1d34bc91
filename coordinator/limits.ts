/**
 * What one site may cost the federation and the coordinator. An enrolled site is authenticated,
 * not trusted: without these bounds one site could outweigh every other (a declared example count
 * of 1e9), push the model to Infinity (Δ = 3.4e38, which is finite float32 but overflows the sum),
 * or hold the coordinator's CPU and memory with hot polling and idle streams (issue 13).
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ConclaveError } from '../protocols/index.ts';

export interface UpdateLimits {
  /**
   * L2 bound on one plain update outside DP. Under DP the clip norm is the bound (plus the noise
   * the site was told to add). A weighted mean of updates within the bound is within it too, so
   * one round moves the model by at most this much whoever sends what.
   */
  updateNormBound: number;
  /**
   * Over-bound updates are refused (`refuse`: the site is out of the round) or scaled down to the
   * bound (`clip`). Refusing is the default: an honest update beyond the bound means a broken site,
   * and clipping an attack keeps its direction, which is the harmful part. A clipped Δ = ±3.4e38
   * still moves a plain-FedAvg model by (its weight share) × the bound every round.
   */
  overNorm: 'clip' | 'refuse';
  /** FedAvg weight cap: a larger declared example count is weighted as this many. */
  maxExamplesPerUpdate: number;
  /** |train loss| above this is not a loss a site measured. */
  maxTrainLoss: number;
}

// Honest MLP/CNN deltas on the zoo models measure well under 100 (lr ≤ 0.1, ≤ 10 epochs); 1e3 leaves
// room for larger custom models while keeping float32 sums far from overflow (3.4e38).
export const DEFAULT_UPDATE_LIMITS: UpdateLimits = Object.freeze({
  updateNormBound: 1e3,
  overNorm: 'refuse',
  maxExamplesPerUpdate: 1_000_000,
  maxTrainLoss: 1e6,
});

/** A bound on ‖N(0, s²·I_d)‖: its mean is ≈ s·√d and it exceeds s·(√d + 10) with probability < e⁻⁵⁰. */
export function noiseNormBound(std: number, size: number): number {
  return std * (Math.sqrt(size) + 10);
}

/** Attacker-controlled text in an error or a log line: at most `max` characters, printable. */
export function quote(value: string, max = 64): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max)}… (${clean.length} chars)`;
}

export interface RateLimits {
  /** Sustained calls per second per token, and the extra calls allowed above it per BURST_WINDOW_S. */
  callsPerSecond: number;
  burst: number;
  /** Calls of one token open at the same time (long polls and streams hold theirs until they end). */
  concurrent: number;
}

// A well-behaved site long-polls GetTask (≤ 1 call per wait) and streams one message at a time;
// 20 calls/s and 4 open calls leave room for retries, and cap a hot loop at a few percent of a core.
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({ callsPerSecond: 20, burst: 40, concurrent: 4 });

/**
 * An admin token drives a whole federation (enrolling hundreds of sites 16 at a time, watching
 * rounds), so it gets more room; it is still limited, since a leaked or looping script must not
 * starve the sites.
 */
export const DEFAULT_ADMIN_RATE_LIMITS: RateLimits = Object.freeze({ callsPerSecond: 200, burst: 1000, concurrent: 64 });

/** Tokens and stream deadlines. */
export interface StreamLimits {
  /** A stage stream that sends nothing for this long is closed (a stalled upload frees its slot). */
  idleMs: number;
  /** No stage stream lives longer than this, whatever the stage's deadline. */
  overallMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = Object.freeze({ idleMs: 30_000, overallMs: 30 * 60_000 });

/**
 * Per-token call rate (rate-limiter-flexible: a sustained rate per second, and a burst allowance
 * refilled over BURST_WINDOW_S) plus a count of the token's open calls. Both are keyed by the
 * token id, so one site's hot loop spends only its own allowance. The rate limiter's entries expire
 * on their own; an open-call entry is dropped when its last call ends, so a flood of distinct
 * (valid) tokens cannot grow either map without bound.
 */
export class TokenLimiter {
  private readonly limits: RateLimits;
  private readonly rate: BurstyRateLimiter;
  private readonly open = new Map<string, number>();

  constructor(limits: RateLimits = DEFAULT_RATE_LIMITS) {
    checkRateLimits(limits);
    this.limits = limits;
    this.rate = new BurstyRateLimiter(
      new RateLimiterMemory({ points: limits.callsPerSecond, duration: 1 }),
      new RateLimiterMemory({ keyPrefix: 'burst', points: limits.burst, duration: BURST_WINDOW_S }),
    );
  }

  /** Takes one call's slot or throws RATE_LIMITED (clients back off and retry); release it when the call ends. */
  async acquire(tokenId: string): Promise<() => void> {
    const open = this.open.get(tokenId) ?? 0;
    if (open >= this.limits.concurrent) {
      throw new ConclaveError('RATE_LIMITED', `too many open calls for this token (at most ${this.limits.concurrent}); retry when one ends`);
    }
    // Counted before the await: concurrent calls of one token cannot all pass the check above.
    this.open.set(tokenId, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tokenId) ?? 1) - 1;
      if (left <= 0) this.open.delete(tokenId);
      else this.open.set(tokenId, left);
    };
    try {
      await this.rate.consume(tokenId);
    } catch (err) {
      release();
      if (!(err instanceof RateLimiterRes)) throw err;
      throw new ConclaveError('RATE_LIMITED', `rate limit: at most ${this.limits.callsPerSecond} calls/s per token (burst ${this.limits.burst}); retry after ${Math.max(1, Math.ceil(err.msBeforeNext))} ms`);
    }
    return release;
  }

  /** Tokens with calls open now (for tests and metrics). */
  get openTokens(): number {
    return this.open.size;
  }
}

/** What the burst allowance refills over: a site that was quiet for this long may make `burst` calls at once. */
export const BURST_WINDOW_S = 10;

export function checkRateLimits(limits: RateLimits): void {
  const ok = (v: number, max: number) => Number.isInteger(v) && v >= 1 && v <= max;
  if (!ok(limits.callsPerSecond, 100_000) || !ok(limits.burst, 1_000_000) || !ok(limits.concurrent, 10_000)) {
    throw new ConclaveError('INVALID_ARGUMENT', 'rate limits must be integers: calls per second in [1, 100000], burst in [1, 1000000], concurrent calls in [1, 10000]');
  }
}
