/**
 * A site's long-term identity: an Ed25519 key pair (RFC 8032, node:crypto) whose public half the
 * coordinator pins to the site on first use. The site signs each round's SecAgg advertisement
 * with it, and every neighbour verifies the signature before sealing a share or deriving a mask:
 * this is the PKI of Bonawitz et al. (CCS 2017, §4, "active adversary" variant) that stops a
 * coordinator from handing a site its own X25519 keys in place of a neighbour's, which would let
 * it open the shares and unmask that site's input.
 * The signed transcript binds the federation and the round, so an advertisement cannot be replayed
 * into another round: after a round the coordinator may legitimately hold a dropped site's mask
 * key, and a replay would hand it that site's masks again. Fields are length-prefixed, so no two
 * different advertisements share a transcript.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export const IDENTITY_PUBLIC_KEY_BYTES = 32;
export const IDENTITY_SIGNATURE_BYTES = 64;

export interface SiteIdentity {
  /** Raw 32-byte Ed25519 public key: what the coordinator pins and neighbours verify with. */
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

/** What a site signs: its two advertised X25519 public keys and the commitment to its self-mask seed. */
export interface SignedKeys {
  encryptionPublicKey: Uint8Array;
  maskPublicKey: Uint8Array;
  seedCommitment: Uint8Array;
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const DOMAIN = 'conclave-secagg/advertisement/v1';

function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

export function generateSiteIdentity(): SiteIdentity {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawPublicKey(publicKey), privateKey };
}

/** PKCS#8 PEM, for a site that keeps its identity in a file across restarts. */
export function identityToPem(identity: SiteIdentity): string {
  return identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function identityFromPem(pem: string): SiteIdentity {
  const privateKey = createPrivateKey({ key: pem, format: 'pem' });
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`a site identity key is Ed25519, this one is ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  return { publicKey: rawPublicKey(createPublicKey(privateKey)), privateKey };
}

function transcript(scope: { federationId: string; roundId: string }, keys: SignedKeys): Buffer {
  const parts: Buffer[] = [
    ...[DOMAIN, scope.federationId, scope.roundId].map((s) => Buffer.from(s, 'utf8')),
    ...[keys.encryptionPublicKey, keys.maskPublicKey, keys.seedCommitment].map((b) => Buffer.from(b)),
  ];
  return Buffer.concat(parts.flatMap((p) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(p.length);
    return [length, p];
  }));
}

export function signAdvertisement(identity: SiteIdentity, scope: { federationId: string; roundId: string }, keys: SignedKeys): Uint8Array {
  return new Uint8Array(sign(null, transcript(scope, keys), identity.privateKey));
}

/** False for a wrong key, a wrong length, another round's advertisement or any altered byte; never throws on bad input. */
export function verifyAdvertisement(publicKey: Uint8Array, scope: { federationId: string; roundId: string }, keys: SignedKeys, signature: Uint8Array): boolean {
  if (publicKey.length !== IDENTITY_PUBLIC_KEY_BYTES || signature.length !== IDENTITY_SIGNATURE_BYTES) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return verify(null, transcript(scope, keys), key, signature);
  } catch {
    return false;
  }
}
