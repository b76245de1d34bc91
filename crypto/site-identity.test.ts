import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateSiteIdentity, identityFromPem, identityToPem, signAdvertisement, verifyAdvertisement } from './site-identity.ts';

const keys = () => ({ encryptionPublicKey: new Uint8Array(randomBytes(32)), maskPublicKey: new Uint8Array(randomBytes(32)), seedCommitment: new Uint8Array(randomBytes(32)) });
const scope = { federationId: 'fed-1', roundId: 'round-1' };

describe('site identity signatures', () => {
  it('verify for the signer, the round and the keys signed, and for nothing else', () => {
    const id = generateSiteIdentity();
    const k = keys();
    const sig = signAdvertisement(id, scope, k);
    expect(verifyAdvertisement(id.publicKey, scope, k, sig)).toBe(true);
    expect(verifyAdvertisement(generateSiteIdentity().publicKey, scope, k, sig)).toBe(false);
    expect(verifyAdvertisement(id.publicKey, { ...scope, roundId: 'round-2' }, k, sig)).toBe(false);
    expect(verifyAdvertisement(id.publicKey, { ...scope, federationId: 'fed-2' }, k, sig)).toBe(false);
    for (const field of ['encryptionPublicKey', 'maskPublicKey', 'seedCommitment'] as const) {
      const altered = { ...k, [field]: Uint8Array.from(k[field], (b, i) => (i === 7 ? b ^ 1 : b)) };
      expect(verifyAdvertisement(id.publicKey, scope, altered, sig)).toBe(false);
    }
    // Swapping the two keys is another advertisement, not the same bytes in another order.
    expect(verifyAdvertisement(id.publicKey, scope, { ...k, encryptionPublicKey: k.maskPublicKey, maskPublicKey: k.encryptionPublicKey }, sig)).toBe(false);
    expect(verifyAdvertisement(id.publicKey.subarray(1), scope, k, sig)).toBe(false);
    expect(verifyAdvertisement(id.publicKey, scope, k, sig.subarray(1))).toBe(false);
    expect(verifyAdvertisement(new Uint8Array(32), scope, k, new Uint8Array(64))).toBe(false);
  });

  it('field boundaries are part of what is signed', () => {
    const id = generateSiteIdentity();
    const k = keys();
    const sig = signAdvertisement(id, { federationId: 'ab', roundId: 'c' }, k);
    expect(verifyAdvertisement(id.publicKey, { federationId: 'a', roundId: 'bc' }, k, sig)).toBe(false);
  });

  it('a key kept as PEM is the same identity', () => {
    const id = generateSiteIdentity();
    const back = identityFromPem(identityToPem(id));
    expect(Buffer.from(back.publicKey).equals(Buffer.from(id.publicKey))).toBe(true);
    const k = keys();
    expect(verifyAdvertisement(id.publicKey, scope, k, signAdvertisement(back, scope, k))).toBe(true);
  });
});
