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
  /** SHA-256 (hex) of the serialized public key the federation's sites hold. */
  keyId: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.enum(['full', 'seeded']),
  /** examples: a site encrypts n·Δ and declares n; uniform (DP): Δ, weight 1. */
  weighting: z.enum(['examples', 'uniform']),
  /** Largest |w·Δᵢ| a site may encrypt, so that the sum over the selected sites cannot wrap modulo q0. */
  maxAbsPerSite: z.number().positive(),
  /** Values per update: the model's parameters plus one slot carrying the adaptive-clipping bit. */
  length: z.number().int().positive(),
}).strict();
export type HePlan = z.infer<typeof HE_PLAN_SCHEMA>;

/** Stage `submit`: the clear-text side of an encrypted update. */
export const HE_SUBMIT_SCHEMA = z.object({
  keyId: z.string().regex(/^[0-9a-f]{64}$/),
  numExamples: z.number().int().nonnegative(),
  trainLoss: z.number(),
  trainAccuracy: z.number(),
}).strict();
export type HeSubmit = z.infer<typeof HE_SUBMIT_SCHEMA>;

/** Stage `decrypt` (task): which aggregate to decrypt; the ciphertexts follow in the same body. */
export const HE_DECRYPT_TASK_SCHEMA = z.object({ keyId: z.string().regex(/^[0-9a-f]{64}$/), length: z.number().int().positive(), count: z.number().int().positive() }).strict();
export type HeDecryptTask = z.infer<typeof HE_DECRYPT_TASK_SCHEMA>;

export function keyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parses a JSON body against its schema; a description of what was wrong, or the value. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  if (bytes.length > 4096) throw new Error(`${what}: a ${bytes.length}-byte body exceeds 4096 bytes`);
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

/**
 * The decrypt task's body: a 4-byte little-endian length of the JSON header, the header, then the
 * packed aggregate ciphertexts. StageTask has no tensor of its own, so they ride in the body.
 */
export function encodeDecryptTask(task: HeDecryptTask, packed: Uint8Array): Buffer {
  const head = encodeJson(task);
  const out = Buffer.alloc(4 + head.length + packed.length);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  out.set(packed, 4 + head.length);
  return out;
}

export function decodeDecryptTask(body: Uint8Array): { task: HeDecryptTask; packed: Uint8Array } {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 4) throw new Error('decrypt task: truncated');
  const headLength = buf.readUInt32LE(0);
  if (4 + headLength > buf.length) throw new Error('decrypt task: truncated header');
  return { task: decodeJson(HE_DECRYPT_TASK_SCHEMA, buf.subarray(4, 4 + headLength), 'decrypt task'), packed: buf.subarray(4 + headLength) };
}
