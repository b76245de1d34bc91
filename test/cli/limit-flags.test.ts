/** coordinator start's limit flags: defaults, overrides, and refusals with the reason. */
import { expect, test } from 'vitest';
import { limitsFromFlags } from '../../coordinator/cli/limit-flags.ts';
import { DEFAULT_ADMIN_RATE_LIMITS, DEFAULT_RATE_LIMITS, DEFAULT_UPDATE_LIMITS } from '../../coordinator/limits.ts';
import { EXIT, exitCodeFor } from '../../protocols/cli.ts';
import { ConclaveError } from '../../protocols/index.ts';

test('no flag: the limits.ts defaults', () => {
  const limits = limitsFromFlags({});
  expect(limits.rateLimits).toEqual(DEFAULT_RATE_LIMITS);
  expect(limits.adminRateLimits).toEqual(DEFAULT_ADMIN_RATE_LIMITS);
  expect(limits.updateLimits).toEqual(DEFAULT_UPDATE_LIMITS);
  expect(limits.streamLimits.idleMs).toBe(30_000);
});

test('each flag sets its limit', () => {
  const limits = limitsFromFlags({
    'site-calls-per-s': '5', 'site-burst': '7', 'site-concurrent-calls': '2', 'admin-calls-per-s': '50',
    'update-norm-bound': '10', 'over-norm': 'clip', 'max-examples-per-update': '5000', 'stream-idle-s': '5',
  });
  expect(limits.rateLimits).toEqual({ callsPerSecond: 5, burst: 7, concurrent: 2 });
  expect(limits.adminRateLimits.callsPerSecond).toBe(50);
  expect(limits.updateLimits).toMatchObject({ updateNormBound: 10, overNorm: 'clip', maxExamplesPerUpdate: 5000 });
  expect(limits.streamLimits.idleMs).toBe(5000);
});

test('out-of-range values are usage errors', () => {
  expect(() => limitsFromFlags({ 'site-calls-per-s': '0' })).toThrow(/--site-calls-per-s must be in \[1, 100000\]/);
  expect(() => limitsFromFlags({ 'update-norm-bound': '1e31' })).toThrow(/--update-norm-bound must be a number in \(0, 1e30\]/);
  expect(() => limitsFromFlags({ 'over-norm': 'ignore' })).toThrow(/--over-norm must be one of clip, refuse/);
  expect(() => limitsFromFlags({ 'max-examples-per-update': '2000000000' })).toThrow(/max-examples-per-update/);
});

test('a rate-limited call exits with its own code', () => {
  expect(exitCodeFor(new ConclaveError('RATE_LIMITED', 'x'))).toBe(EXIT.RATE_LIMITED);
  expect(exitCodeFor(new ConclaveError('UPDATE_REFUSED', 'x'))).toBe(EXIT.INVALID_INPUT);
});
