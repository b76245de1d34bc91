import { describe, expect, test } from 'vitest';
import { CryptoError } from './errors.ts';
import { DpError, invalidParameter as dpInvalid } from './dp/errors.ts';
import { SecAggError, invalidParameter as secaggInvalid } from './secagg/errors.ts';
import { TokenError, verifyToken, generateSigningKeys } from './tokens.ts';

describe('CryptoError: one base for every crypto module\'s typed error', () => {
  test('each module\'s error keeps its class, name and code, and is a CryptoError and an Error', async () => {
    const token = await verifyToken(await generateSigningKeys(), 'not-a-jwt').then(() => null, (err: unknown) => err);
    const cases: Array<[unknown, new (...args: never[]) => Error, string, string]> = [
      [dpInvalid('bad σ'), DpError, 'DpError', 'DP_INVALID_PARAMETER'],
      [secaggInvalid('bad t'), SecAggError, 'SecAggError', 'SECAGG_INVALID_PARAMETER'],
      [token, TokenError, 'TokenError', 'TOKEN_MALFORMED'],
    ];
    for (const [err, cls, name, code] of cases) {
      expect(err).toBeInstanceOf(cls);
      expect(err).toBeInstanceOf(CryptoError);
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ name, code });
      expect(String(err)).toMatch(new RegExp(`^${name}: `));
    }
    // instanceof still tells the families apart.
    expect(dpInvalid('x')).not.toBeInstanceOf(SecAggError);
    expect(secaggInvalid('x')).not.toBeInstanceOf(DpError);
  });

  test('a cause is kept', () => {
    const cause = new Error('inner');
    expect(new DpError('DP_NUMERICAL', 'outer', { cause }).cause).toBe(cause);
  });
});
