/**
 * Key agreement and share encryption for SecAgg (Bonawitz et al., CCS 2017, §4): each site holds
 * two X25519 key pairs, one whose agreed secrets encrypt the Shamir shares it sends its neighbours
 * (c_i), one whose agreed secrets seed the pairwise masks (s_i). Agreed secrets go through HKDF
 * (RFC 5869, SHA-256) with a label naming the round and the ordered pair, so a key never serves two
 * purposes, two rounds or two pairs. Every primitive is node:crypto's; nothing here is hand-rolled.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { SecAggError, invalidParameter } from './errors.ts';

export const KEY_BYTES = 32;

export interface X25519KeyPair {
  /** Raw 32-byte public key (RFC 7748). */
  publicKey: Uint8Array;
  /** Raw 32-byte private key: the value that is Shamir-shared for the mask-agreement pair. */
  privateKey: Uint8Array;
}

// DER prefixes of PKCS#8 / SPKI for X25519 (RFC 8410): node:crypto imports raw keys only through them.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export function generateX25519(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)),
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length)),
  };
}

/** A raw private key parsed once, for agreeing with many peers (agreeKey parses a raw key on each call). */
export function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_BYTES) throw invalidParameter(`an X25519 private key is ${KEY_BYTES} bytes, got ${raw.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** A raw public key parsed once, for a peer many sites agree with. */
export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_BYTES) throw invalidParameter(`an X25519 public key is ${KEY_BYTES} bytes, got ${raw.length}`);
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (error) {
    // A peer's advertised key that OpenSSL cannot load is the peer's fault, as in agreeKey.
    throw new SecAggError('SECAGG_BAD_SHARE', `unusable public key: ${(error as Error).message}`);
  }
}

/** The public key of a raw private key (used to check a reconstructed key against the advertised one). */
export function x25519PublicOf(privateKey: Uint8Array): Uint8Array {
  return new Uint8Array(createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

/**
 * A 256-bit key from X25519(own private, peer public) and HKDF-SHA256. `label` binds the purpose,
 * the round and the unordered pair; both ends derive the same key because the pair is sorted.
 */
export function agreeKey(privateKey: Uint8Array | KeyObject, peerPublicKey: Uint8Array | KeyObject, purpose: 'share-encryption' | 'pairwise-mask', roundId: string, a: number, b: number): Uint8Array {
  let shared: Buffer;
  try {
    shared = diffieHellman({
      privateKey: privateKey instanceof Uint8Array ? privateKeyObject(privateKey) : privateKey,
      publicKey: peerPublicKey instanceof Uint8Array ? publicKeyObject(peerPublicKey) : peerPublicKey,
    });
  } catch (error) {
    // A low-order peer key gives an all-zero secret, which OpenSSL refuses: the peer's key is unusable.
    throw new SecAggError('SECAGG_BAD_SHARE', `key agreement failed: ${(error as Error).message}`);
  }
  const [lo, hi] = a < b ? [a, b] : [b, a];
  const info = Buffer.from(`conclave-secagg/${purpose}/${roundId}/${lo}/${hi}`, 'utf8');
  return new Uint8Array(hkdfSync('sha256', shared, Buffer.alloc(0), info, KEY_BYTES));
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM with a random 96-bit IV (one message per key, so a random IV cannot repeat); output iv ‖ ciphertext ‖ tag. */
export function sealShare(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()]));
}

/** Opens what sealShare produced; a wrong key, a tampered byte or another pair's associated data all fail the tag. */
export function openShare(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new SecAggError('SECAGG_BAD_SHARE', 'encrypted share is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(associatedData);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
  } catch {
    throw new SecAggError('SECAGG_BAD_SHARE', 'encrypted share failed authentication (wrong sender, recipient, round or a tampered byte)');
  }
}
