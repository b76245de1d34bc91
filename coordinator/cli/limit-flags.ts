/**
 * `conclave coordinator start` flags for what one site (or admin) token may cost the coordinator and
 * the federation (coordinator/limits.ts). Every flag is optional; the defaults are the ones
 * limits.ts explains.
 */
import { CliError, int, num, oneOf, type Flags } from '../../protocols/cli.ts';
import {
  DEFAULT_ADMIN_RATE_LIMITS, DEFAULT_RATE_LIMITS, DEFAULT_STREAM_LIMITS, DEFAULT_UPDATE_LIMITS,
  type RateLimits, type StreamLimits, type UpdateLimits,
} from '../limits.ts';

export const LIMIT_OPTIONS = {
  'site-calls-per-s': { type: 'string' }, 'site-burst': { type: 'string' }, 'site-concurrent-calls': { type: 'string' },
  'admin-calls-per-s': { type: 'string' }, 'admin-burst': { type: 'string' }, 'admin-concurrent-calls': { type: 'string' },
  'update-norm-bound': { type: 'string' }, 'over-norm': { type: 'string' }, 'max-examples-per-update': { type: 'string' },
  'stream-idle-s': { type: 'string' },
} as const;

export const LIMIT_USAGE = `per-token limits (a refused call gets RESOURCE_EXHAUSTED / code RATE_LIMITED; the SDK backs off and retries):
  [--site-calls-per-s ${DEFAULT_RATE_LIMITS.callsPerSecond}] [--site-burst ${DEFAULT_RATE_LIMITS.burst}] [--site-concurrent-calls ${DEFAULT_RATE_LIMITS.concurrent}]
  [--admin-calls-per-s ${DEFAULT_ADMIN_RATE_LIMITS.callsPerSecond}] [--admin-burst ${DEFAULT_ADMIN_RATE_LIMITS.burst}] [--admin-concurrent-calls ${DEFAULT_ADMIN_RATE_LIMITS.concurrent}]
  [--stream-idle-s ${DEFAULT_STREAM_LIMITS.idleMs / 1000}]     a stage upload that sends nothing for this long is closed
what one update may weigh (plain rounds; under DP the clip norm bounds updates):
  [--update-norm-bound ${DEFAULT_UPDATE_LIMITS.updateNormBound}] [--over-norm clip|refuse (${DEFAULT_UPDATE_LIMITS.overNorm})]
  [--max-examples-per-update ${DEFAULT_UPDATE_LIMITS.maxExamplesPerUpdate}]   FedAvg weight cap for any site (a site enrolled with
                                   --max-examples N is capped at N)`;

export interface CoordinatorLimits {
  rateLimits: RateLimits;
  adminRateLimits: RateLimits;
  streamLimits: StreamLimits;
  updateLimits: UpdateLimits;
}

export function limitsFromFlags(flags: Flags): CoordinatorLimits {
  const rate = (prefix: string, d: RateLimits): RateLimits => ({
    callsPerSecond: int(flags, `${prefix}-calls-per-s`, { min: 1, max: 100_000, fallback: d.callsPerSecond }),
    burst: int(flags, `${prefix}-burst`, { min: 1, max: 1_000_000, fallback: d.burst }),
    concurrent: int(flags, `${prefix}-concurrent-calls`, { min: 1, max: 10_000, fallback: d.concurrent }),
  });
  const idleMs = int(flags, 'stream-idle-s', { min: 1, max: 3600, fallback: DEFAULT_STREAM_LIMITS.idleMs / 1000 }) * 1000;
  if (idleMs > DEFAULT_STREAM_LIMITS.overallMs) throw new CliError(`--stream-idle-s cannot exceed the overall stream limit (${DEFAULT_STREAM_LIMITS.overallMs / 1000} s)`);
  return {
    rateLimits: rate('site', DEFAULT_RATE_LIMITS),
    adminRateLimits: rate('admin', DEFAULT_ADMIN_RATE_LIMITS),
    streamLimits: { ...DEFAULT_STREAM_LIMITS, idleMs },
    updateLimits: {
      ...DEFAULT_UPDATE_LIMITS,
      // Above 1e30 the float32 sum of a few thousand bounded updates could overflow again.
      updateNormBound: num(flags, 'update-norm-bound', { fallback: DEFAULT_UPDATE_LIMITS.updateNormBound, test: (v) => v > 0 && v <= 1e30, expect: 'a number in (0, 1e30]' }),
      overNorm: oneOf(flags, 'over-norm', ['clip', 'refuse'] as const, DEFAULT_UPDATE_LIMITS.overNorm),
      maxExamplesPerUpdate: int(flags, 'max-examples-per-update', { min: 1, max: 1_000_000_000, fallback: DEFAULT_UPDATE_LIMITS.maxExamplesPerUpdate }),
    },
  };
}
