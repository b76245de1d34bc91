import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { KeyWrapError, generateSiteKeyPair, openSecretKey, sealSecretKey } from './key-wrap.ts';

const ctx = { federationId: 'fed-1', siteId: 'site-a', keyId: 'ab'.repeat(32) };

describe('sealing the CKKS secret key to a site', () => {
  test('the recipient opens what was sealed to it, for any key bytes', () => {
    const site = generateSiteKeyPair();
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (secret) => {
      expect(Buffer.from(openSecretKey(sealSecretKey(secret, site.publicKey, ctx), site, ctx)).equals(Buffer.from(secret))).toBe(true);
    }), { numRuns: 50 });
  });

  test('the sealed bytes do not contain the key, and two sealings differ (fresh ephemeral key)', () => {
    const site = generateSiteKeyPair();
    const secret = new Uint8Array(131_160).map((_, i) => (i * 31 + 7) & 0xff);
    const a = Buffer.from(sealSecretKey(secret, site.publicKey, ctx));
    const b = Buffer.from(sealSecretKey(secret, site.publicKey, ctx));
    expect(a.includes(Buffer.from(secret.subarray(1000, 1064)))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  test('another site, another federation or key id, or any altered byte: it does not open', () => {
    const site = generateSiteKeyPair();
    const other = generateSiteKeyPair();
    const sealed = sealSecretKey(Uint8Array.of(1, 2, 3, 4), site.publicKey, ctx);
    expect(() => openSecretKey(sealed, other, ctx)).toThrow(KeyWrapError);
    expect(() => openSecretKey(sealed, site, { ...ctx, siteId: 'site-b' })).toThrow(KeyWrapError);
    expect(() => openSecretKey(sealed, site, { ...ctx, federationId: 'fed-2' })).toThrow(KeyWrapError);
    expect(() => openSecretKey(sealed, site, { ...ctx, keyId: 'cd'.repeat(32) })).toThrow(KeyWrapError);
    for (let i = 0; i < sealed.length; i++) {
      const altered = Uint8Array.from(sealed);
      altered[i]! ^= 0x01;
      expect(() => openSecretKey(altered, site, ctx)).toThrow(KeyWrapError);
    }
    expect(() => openSecretKey(sealed.subarray(0, 20), site, ctx)).toThrow(KeyWrapError);
    expect(() => sealSecretKey(Uint8Array.of(1), new Uint8Array(31), ctx)).toThrow(KeyWrapError);
  });
});

test('a low-order ephemeral key is refused as a key-wrap error', () => {
  const site = generateSiteKeyPair();
  const sealed = sealSecretKey(Uint8Array.of(1, 2, 3), site.publicKey, ctx);
  sealed.fill(0, 1, 33);
  expect(() => openSecretKey(sealed, site, ctx)).toThrow(KeyWrapError);
});
