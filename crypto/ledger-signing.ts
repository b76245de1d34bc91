import { KeyObject, createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { CompactSign, type CryptoKey } from 'jose';

/**
 * Privacy-ledger entries are hash-chained and signed. The payload is signed as the exact bytes
 * that are stored, so verification never depends on re-serialising JSON the same way twice.
 * Pure: takes keys and strings, returns strings and verdicts; storage is the coordinator's business.
 *
 * Each federation's chain starts from its own genesis, SHA-256 of a domain-separated string with
 * the federation id, so a chain lifted from another federation breaks at its first link (format 1
 * ledgers started every federation from the shared all-zero hash: LEGACY_GENESIS_HASH).
 * Verification is synchronous (node:crypto's Ed25519): the coordinator re-walks a whole chain
 * before every admission and must not yield to the scheduler halfway through.
 */
export const LEGACY_GENESIS_HASH = '0'.repeat(64);

const GENESIS_DOMAIN = 'conclave-ledger/genesis\u0000';
const JWS_TYPE = 'conclave-ledger+jws';

export interface SignedEntry {
  payload: string;
  hash: string;
  jws: string;
}

export interface ChainEntry {
  seq: number;
  payload: string;
  hash: string;
  jws: string;
}

export function entryHash(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/** The hash a federation's first entry names as its predecessor. */
export function genesisHash(federationId: string): string {
  return createHash('sha256').update(GENESIS_DOMAIN + federationId, 'utf8').digest('hex');
}

/**
 * RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical public JWK): what an auditor pins.
 * The `kid` alone pins nothing, since whoever makes a key chooses its kid.
 */
export function keyFingerprint(publicKey: KeyObject | CryptoKey): string {
  const jwk = toKeyObject(publicKey).export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('ledger keys are Ed25519 (OKP) keys');
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }), 'utf8').digest('base64url');
}

/**
 * The one Ed25519 key in a JWKS ({"keys":[…]}) or a bare public JWK, with its kid and fingerprint.
 * Throws a TypeError saying what is wrong: no key, several keys, or not an Ed25519 public key.
 */
export function ledgerKeyFromJwks(jwks: unknown): { publicKey: KeyObject; keyId: string | null; fingerprint: string } {
  const keys = typeof jwks === 'object' && jwks !== null && Array.isArray((jwks as { keys?: unknown }).keys) ? (jwks as { keys: unknown[] }).keys : [jwks];
  if (keys.length !== 1) throw new TypeError(`expected exactly one key, found ${keys.length}`);
  const jwk = keys[0] as Record<string, unknown> | null;
  if (typeof jwk !== 'object' || jwk === null || jwk['kty'] !== 'OKP' || jwk['crv'] !== 'Ed25519' || typeof jwk['x'] !== 'string' || 'd' in jwk) {
    throw new TypeError('not an Ed25519 public JWK (kty OKP, crv Ed25519, x, and no private part)');
  }
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk['x'] }, format: 'jwk' });
  return { publicKey, keyId: typeof jwk['kid'] === 'string' ? jwk['kid'] : null, fingerprint: keyFingerprint(publicKey) };
}

export async function signEntry(privateKey: CryptoKey, keyId: string, payload: string): Promise<SignedEntry> {
  const jws = await new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'EdDSA', kid: keyId, typ: JWS_TYPE })
    .sign(privateKey);
  return { payload, hash: entryHash(payload), jws };
}

export type SignatureProblem =
  | { problem: 'signature'; detail: string }
  | { problem: 'wrong-key-id'; expectedKeyId: string; actualKeyId: string | null }
  | { problem: 'payload-mismatch' };

/**
 * Checks one compact JWS: a ledger signature (alg EdDSA, typ conclave-ledger+jws, no crit) that
 * verifies under `publicKey`, whose kid is `keyId` when one is pinned, and that carries exactly
 * the stored payload. Returns every problem (empty = signed by that key).
 */
export function checkEntrySignature(publicKey: KeyObject | CryptoKey, jws: string, payload: string, keyId: string | null = null): SignatureProblem[] {
  const parts = jws.split('.');
  if (parts.length !== 3) return [{ problem: 'signature', detail: 'not a compact JWS' }];
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof header !== 'object' || header === null) throw new Error('not an object');
  } catch {
    return [{ problem: 'signature', detail: 'the protected header is not JSON' }];
  }
  if (header['alg'] !== 'EdDSA') return [{ problem: 'signature', detail: `alg ${String(header['alg'])} is not EdDSA` }];
  if (header['typ'] !== JWS_TYPE) return [{ problem: 'signature', detail: `typ ${String(header['typ'])} is not ${JWS_TYPE}` }];
  if ('crit' in header) return [{ problem: 'signature', detail: 'unsupported crit header' }];
  const problems: SignatureProblem[] = [];
  const valid = verifySignature(null, Buffer.from(`${headerPart}.${payloadPart}`, 'ascii'), toKeyObject(publicKey), Buffer.from(signaturePart, 'base64url'));
  if (!valid) problems.push({ problem: 'signature', detail: 'the signature does not verify under the key' });
  const kid = typeof header['kid'] === 'string' ? header['kid'] : null;
  if (keyId !== null && kid !== keyId) problems.push({ problem: 'wrong-key-id', expectedKeyId: keyId, actualKeyId: kid });
  // Compared encoded, so lenient base64url decoding can never make two payloads look equal.
  if (valid && payloadPart !== Buffer.from(payload, 'utf8').toString('base64url')) problems.push({ problem: 'payload-mismatch' });
  return problems;
}

export type ChainProblem =
  | ({ seq: number } & SignatureProblem)
  | { seq: number; problem: 'hash-mismatch' }
  | { seq: number; problem: 'broken-link'; expectedPrev: string; actualPrev: string }
  | { seq: number; problem: 'sequence-gap'; expectedSeq: number };

export interface ChainOptions {
  /** The hash the first entry must name as its predecessor. */
  genesis?: string;
  /** The pinned key's kid: every entry's protected header must carry it. */
  keyId?: string | null;
  /**
   * Verified signatures, by payload hash: an entry whose payload hashes to a key here and whose
   * JWS is the one recorded is not verified again. Filled with every entry that verifies.
   */
  verified?: Map<string, string>;
  /** entryHash of each payload, when the caller computed them already (they are recomputed otherwise). */
  payloadHashes?: readonly string[];
}

/**
 * Checks a whole chain, synchronously: each entry's JWS verifies under the public key and carries
 * exactly the stored payload, the stored hash is the payload's hash, each payload names its
 * predecessor's hash (the first names `genesis`), and sequence numbers run 1, 2, … without gaps.
 * Returns every problem found (empty = intact).
 */
export function checkChain(
  publicKey: KeyObject | CryptoKey,
  entries: readonly ChainEntry[],
  readPrev: (payload: string, index: number) => string,
  options: ChainOptions = {},
): ChainProblem[] {
  const key = toKeyObject(publicKey);
  const problems: ChainProblem[] = [];
  let prev = options.genesis ?? LEGACY_GENESIS_HASH;
  let expectedSeq = 1;
  entries.forEach((entry, index) => {
    if (entry.seq !== expectedSeq) problems.push({ seq: entry.seq, problem: 'sequence-gap', expectedSeq });
    expectedSeq = entry.seq + 1;
    const hash = options.payloadHashes?.[index] ?? entryHash(entry.payload);
    if (!(hash === entry.hash && options.verified?.get(hash) === entry.jws)) {
      const signatureProblems = checkEntrySignature(key, entry.jws, entry.payload, options.keyId ?? null);
      for (const p of signatureProblems) problems.push({ seq: entry.seq, ...p });
      if (signatureProblems.length === 0 && hash === entry.hash) options.verified?.set(hash, entry.jws);
    }
    if (hash !== entry.hash) problems.push({ seq: entry.seq, problem: 'hash-mismatch' });
    let actualPrev: string;
    try {
      actualPrev = readPrev(entry.payload, index);
    } catch {
      actualPrev = '';
    }
    if (actualPrev !== prev) problems.push({ seq: entry.seq, problem: 'broken-link', expectedPrev: prev, actualPrev });
    prev = entry.hash;
  });
  return problems;
}

/** checkChain for callers that already await it (its answer does not depend on being async). */
export async function verifyChain(
  publicKey: KeyObject | CryptoKey,
  entries: readonly ChainEntry[],
  readPrev: (payload: string, index: number) => string,
  options: ChainOptions = {},
): Promise<ChainProblem[]> {
  return checkChain(publicKey, entries, readPrev, options);
}

function toKeyObject(key: KeyObject | CryptoKey): KeyObject {
  return key instanceof KeyObject ? key : KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
}
