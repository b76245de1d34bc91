/**
 * The bodies protection `he` puts on the wire, shared by its coordinator and site halves (crypto/
 * is the one room both may import). They travel as JSON inside OpaqueBody; the ciphertexts
 * themselves travel as the stage message's byte tensor (packCiphertexts), chunked and digest-
 * checked like any update. Everything read from the network goes through these schemas.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { COEFF_MODULUS_BITS, POLY_MODULUS_DEGREE, SCALE } from './ckks.ts';

/** The round's CKKS plan: the parameters (which a site checks against its own), the key, and how to weight. */
export const HE_PLAN_SCHEMA = z.object({
  scheme: z.literal('ckks'),
  polyModulusDegree: z.literal(POLY_MODULUS_DEGREE),
  coeffModulusBits: z.tuple([z.literal(COEFF_MODULUS_BITS[0]!), z.literal(COEFF_MODULUS_BITS[1]!)]),
  scale: z.literal(SCALE),
  /**
   * SHA-256 (hex) of the federation's current public key, or "" when there is none yet (or it was
   * retired because a holder was revoked): then this round runs a key ceremony first.
   */
  keyId: z.string().regex(/^([0-9a-f]{64})?$/),
  mode: z.enum(['full', 'seeded']),
  /** examples: a site encrypts n·Δ and declares n; uniform (DP): Δ, weight 1. */
  weighting: z.enum(['examples', 'uniform']),
  /** Largest |w·Δᵢ| a site may encrypt, so that the sum over the selected sites cannot wrap modulo q0. */
  maxAbsPerSite: z.number().positive(),
  /** Values per update: the model's parameters plus one slot carrying the adaptive-clipping bit. */
  length: z.number().int().positive(),
}).strict();
export type HePlan = z.infer<typeof HE_PLAN_SCHEMA>;

const KEY_ID = z.string().regex(/^[0-9a-f]{64}$/);
const BASE64_X25519 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an X25519 public key (32 bytes, base64url)');
const SITE_ID = z.string().min(1).max(128);

/**
 * Stage `submit`: the clear-text side of an update. A site holding the plan's key sends its
 * ciphertexts with it (keyId = the plan's); one that does not sends keyId "" and no tensor, and
 * gets the key in this round's ceremony. Every site advertises a fresh X25519 key for that
 * ceremony (its private half lives in the round's memory only).
 */
export const HE_SUBMIT_SCHEMA = z.object({
  keyId: z.string().regex(/^([0-9a-f]{64})?$/),
  exchangeKey: BASE64_X25519,
  numExamples: z.number().int().nonnegative(),
  trainLoss: z.number(),
  trainAccuracy: z.number(),
}).strict();
export type HeSubmit = z.infer<typeof HE_SUBMIT_SCHEMA>;

/**
 * Stage `keys` (task, to the custodian only): `new`: generate the federation's CKKS keys and seal
 * the secret key to every recipient; `share`: seal the key it already holds (keyId) to recipients
 * that lack it. The custodian answers with a byte tensor: packCiphertexts([public key, sealed key
 * of recipient 1, …]) in the recipients' order, and the body HE_KEYS_SCHEMA.
 */
export const HE_KEYS_TASK_SCHEMA = z.object({
  mode: z.enum(['new', 'share']),
  keyId: z.string().regex(/^([0-9a-f]{64})?$/),
  recipients: z.array(z.object({ siteId: SITE_ID, exchangeKey: BASE64_X25519 }).strict()).max(10_000),
}).strict();
export type HeKeysTask = z.infer<typeof HE_KEYS_TASK_SCHEMA>;
export const HE_KEYS_SCHEMA = z.object({ keyId: KEY_ID }).strict();

/** Stage `encrypt` (task): the key this site now encrypts under; the public key and (unless it is the custodian) its sealed secret key follow in the body. */
export const HE_ENCRYPT_TASK_SCHEMA = z.object({ keyId: KEY_ID, siteId: SITE_ID, sealed: z.boolean() }).strict();
export type HeEncryptTask = z.infer<typeof HE_ENCRYPT_TASK_SCHEMA>;

/** Stage `decrypt` (task): which aggregate to decrypt; the ciphertexts follow in the same body. */
export const HE_DECRYPT_TASK_SCHEMA = z.object({ keyId: KEY_ID, length: z.number().int().positive(), count: z.number().int().positive() }).strict();
export type HeDecryptTask = z.infer<typeof HE_DECRYPT_TASK_SCHEMA>;

export function keyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parses a JSON body against its schema; a description of what was wrong, or the value. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array, what: string, maxBytes = 4096): T {
  if (bytes.length > maxBytes) throw new Error(`${what}: a ${bytes.length}-byte body exceeds ${maxBytes} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new Error(`${what}: not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'} ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** A task body for the keys stage: at most 10,000 recipients of ~150 bytes each. */
export const MAX_KEYS_TASK_BYTES = 2 ** 21;

/**
 * A framed task body: a 4-byte little-endian length of the JSON header, the header, then packed
 * binary items (ciphertexts, keys). StageTask has no tensor of its own, so they ride in the body.
 */
export function encodeFramed(head: unknown, packed: Uint8Array): Buffer {
  const json = encodeJson(head);
  const out = Buffer.alloc(4 + json.length + packed.length);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  out.set(packed, 4 + json.length);
  return out;
}

export function decodeFramed<T>(schema: z.ZodType<T>, body: Uint8Array, what: string): { head: T; packed: Uint8Array } {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 4) throw new Error(`${what}: truncated`);
  const headLength = buf.readUInt32LE(0);
  if (4 + headLength > buf.length) throw new Error(`${what}: truncated header`);
  return { head: decodeJson(schema, buf.subarray(4, 4 + headLength), what), packed: buf.subarray(4 + headLength) };
}
