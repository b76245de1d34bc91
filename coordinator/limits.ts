/**
 * What one site may cost the federation and the coordinator. An enrolled site is authenticated,
 * not trusted: without these bounds one site could outweigh every other (a declared example count
 * of 1e9), push the model to Infinity (Δ = 3.4e38, which is finite float32 but overflows the sum),
 * or hold the coordinator's CPU and memory with hot polling and idle streams (issue 13).
 */
import { ConclaveError } from '../protocols/index.ts';

export interface UpdateLimits {
  /**
   * L2 bound on one plain update outside DP. Under DP the clip norm is the bound (plus the noise
   * the site was told to add). A weighted mean of updates within the bound is within it too, so
   * one round moves the model by at most this much whoever sends what.
   */
  updateNormBound: number;
  /** Over-bound updates are scaled down to the bound (`clip`) or refused (`refuse`). */
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
  overNorm: 'clip',
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
  /** Sustained calls per second per token, and the burst above it. */
  callsPerSecond: number;
  burst: number;
  /** Calls of one token open at the same time (long polls and streams hold theirs until they end). */
  concurrent: number;
}

// A well-behaved site long-polls GetTask (≤ 1 call per wait) and streams one message at a time;
// 20 calls/s and 4 open calls leave room for retries, and cap a hot loop at a few percent of a core.
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({ callsPerSecond: 20, burst: 40, concurrent: 4 });

/** Tokens and stream deadlines. */
export interface StreamLimits {
  /** A stage stream that sends nothing for this long is closed (a stalled upload frees its slot). */
  idleMs: number;
  /** No stage stream lives longer than this, whatever the stage's deadline. */
  overallMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = Object.freeze({ idleMs: 30_000, overallMs: 30 * 60_000 });

/**
 * Per-token token bucket plus an open-call counter. Small enough to need no library: the state
 * is two numbers per active token, and entries of tokens idle for a minute are dropped so a
 * flood of distinct (valid) tokens cannot grow it without bound.
 */
export class TokenLimiter {
  private readonly limits: RateLimits;
  private readonly now: () => number;
  private readonly buckets = new Map<string, { tokens: number; at: number; open: number }>();
  private lastSweep = 0;

  constructor(limits: RateLimits = DEFAULT_RATE_LIMITS, now: () => number = Date.now) {
    if (!(limits.callsPerSecond > 0) || !(limits.burst >= 1) || !(limits.concurrent >= 1)) {
      throw new ConclaveError('INVALID_ARGUMENT', 'rate limits must be positive');
    }
    this.limits = limits;
    this.now = now;
  }

  /** Takes one call's slot or throws UNAVAILABLE (clients back off and retry); release it when the call ends. */
  acquire(tokenId: string): () => void {
    const now = this.now();
    this.sweep(now);
    let b = this.buckets.get(tokenId);
    if (!b) {
      b = { tokens: this.limits.burst, at: now, open: 0 };
      this.buckets.set(tokenId, b);
    }
    b.tokens = Math.min(this.limits.burst, b.tokens + ((now - b.at) / 1000) * this.limits.callsPerSecond);
    b.at = now;
    if (b.open >= this.limits.concurrent) {
      throw new ConclaveError('UNAVAILABLE', `too many open calls for this token (at most ${this.limits.concurrent}); retry when one ends`);
    }
    if (b.tokens < 1) {
      throw new ConclaveError('UNAVAILABLE', `rate limit: at most ${this.limits.callsPerSecond} calls/s per token; retry after ${Math.ceil(1000 / this.limits.callsPerSecond)} ms`);
    }
    b.tokens -= 1;
    b.open++;
    const bucket = b;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      bucket.open--;
    };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [id, b] of this.buckets) if (b.open === 0 && now - b.at > 60_000) this.buckets.delete(id);
  }
}
