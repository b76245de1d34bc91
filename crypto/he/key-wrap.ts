/**
 * Sealing the federation's CKKS secret key to one site, so that a coordinator relaying it learns
 * nothing: the building block of the key ceremony (the custodian site seals the key to each
 * enrolled site's X25519 key; the coordinator only stores and forwards the sealed bytes).
 *
 * Construction: ECIES in the shape of HPKE base mode (RFC 9180, DHKEM(X25519, HKDF-SHA256) with
 * AES-256-GCM): a fresh ephemeral X25519 key per recipient, HKDF-SHA256 over the shared secret with
 * both public keys as salt, AES-256-GCM under the derived key. The federation, the site and the
 * key id are bound as associated data, so a sealed key relayed to another site, another
 * federation, or presented as another key fails to open instead of being silently accepted.
 * Confidentiality rests on the gap-CDH assumption in X25519 (RFC 7748) and the AEAD security of
 * AES-GCM with a key used once (so a fixed random IV cannot repeat under it).
 *
 * What this does not give: sender authentication (anyone holding a site's public key can seal
 * something to it). Protection `he` accepts that under its honest-but-curious coordinator (the
 * relay could otherwise play custodian); a custodian's signature over the key id, with site
 * identity keys, would close it.
 */
import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { CryptoError } from '../errors.ts';

const VERSION = 1;
const LABEL = 'conclave/ckks-secret-key/v1';
const X25519_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A sealed key's overhead: version, ephemeral key, IV, tag. */
export const SEALED_OVERHEAD_BYTES = 1 + X25519_BYTES + IV_BYTES + TAG_BYTES;

export interface KeyWrapContext {
  federationId: string;
  siteId: string;
  /** The CKKS key id (SHA-256 of the public key) the sealed secret key belongs to. */
  keyId: string;
}

export class KeyWrapError extends CryptoError<'HE_KEY_WRAP'> {
  constructor(message: string) {
    super('HE_KEY_WRAP', message);
  }
}

export interface X25519KeyPair {
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

export function generateSiteKeyPair(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublicKey(publicKey), privateKey };
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

function importPublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== X25519_BYTES) throw new KeyWrapError(`an X25519 public key is ${X25519_BYTES} bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

function associatedData(ctx: KeyWrapContext): Buffer {
  return Buffer.from(JSON.stringify([LABEL, ctx.federationId, ctx.siteId, ctx.keyId]), 'utf8');
}

function deriveKey(shared: Buffer, ephemeral: Uint8Array, recipient: Uint8Array, ctx: KeyWrapContext): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), associatedData(ctx), 32));
}

/** version (1) ‖ ephemeral public key (32) ‖ IV (12) ‖ AES-GCM ciphertext ‖ tag (16). */
export function sealSecretKey(secretKey: Uint8Array, recipientPublicKey: Uint8Array, ctx: KeyWrapContext): Uint8Array {
  const recipient = importPublicKey(recipientPublicKey);
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralRaw = rawPublicKey(ephemeral.publicKey);
  const key = deriveKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), ephemeralRaw, recipientPublicKey, ctx);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(ctx));
  const body = Buffer.concat([cipher.update(secretKey), cipher.final()]);
  return new Uint8Array(Buffer.concat([Buffer.of(VERSION), ephemeralRaw, iv, body, cipher.getAuthTag()]));
}

export function openSecretKey(sealed: Uint8Array, recipient: X25519KeyPair, ctx: KeyWrapContext): Uint8Array {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (bytes.length < 1 + X25519_BYTES + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) throw new KeyWrapError('not a sealed CKKS secret key of this version');
  const ephemeralRaw = bytes.subarray(1, 1 + X25519_BYTES);
  const iv = bytes.subarray(1 + X25519_BYTES, 1 + X25519_BYTES + IV_BYTES);
  const body = bytes.subarray(1 + X25519_BYTES + IV_BYTES, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  if (recipient.privateKey.type !== 'private' || recipient.privateKey.asymmetricKeyType !== 'x25519') throw new KeyWrapError('opening needs the site\'s X25519 private key');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: recipient.privateKey, publicKey: importPublicKey(ephemeralRaw) });
  } catch {
    // A low-order ephemeral point makes the shared secret all zeros, which node refuses.
    throw new KeyWrapError('the sealed key carries an invalid ephemeral X25519 key');
  }
  const key = deriveKey(shared, ephemeralRaw, recipient.publicKey, ctx);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(associatedData(ctx));
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch {
    throw new KeyWrapError('the sealed key does not open: it was sealed to another site, for another federation or key, or altered in transit');
  }
}
