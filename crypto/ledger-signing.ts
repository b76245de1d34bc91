import { createHash } from 'node:crypto';
import { CompactSign, compactVerify, type CryptoKey } from 'jose';

/**
 * Privacy-ledger entries are hash-chained and signed. The payload is signed as the exact bytes
 * that are stored, so verification never depends on re-serialising JSON the same way twice.
 * Pure: takes keys and strings, returns strings; storage is the coordinator's business.
 */
export const GENESIS_HASH = '0'.repeat(64);

export interface SignedEntry {
  payload: string;
  hash: string;
  jws: string;
}

export function entryHash(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

export async function signEntry(privateKey: CryptoKey, keyId: string, payload: string): Promise<SignedEntry> {
  const jws = await new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'EdDSA', kid: keyId, typ: 'conclave-ledger+jws' })
    .sign(privateKey);
  return { payload, hash: entryHash(payload), jws };
}

export type ChainProblem =
  | { seq: number; problem: 'signature'; detail: string }
  | { seq: number; problem: 'payload-mismatch' }
  | { seq: number; problem: 'hash-mismatch' }
  | { seq: number; problem: 'broken-link'; expectedPrev: string; actualPrev: string }
  | { seq: number; problem: 'sequence-gap'; expectedSeq: number };

/**
 * Checks a whole chain: each entry's JWS verifies under the public key and carries exactly the
 * stored payload, the stored hash is the payload's hash, each payload names its predecessor's hash,
 * and sequence numbers have no gaps. Returns every problem found (empty = intact).
 */
export async function verifyChain(
  publicKey: CryptoKey,
  entries: Array<{ seq: number; payload: string; hash: string; jws: string }>,
  readPrev: (payload: string) => string,
): Promise<ChainProblem[]> {
  const problems: ChainProblem[] = [];
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const entry of entries) {
    if (entry.seq !== expectedSeq) problems.push({ seq: entry.seq, problem: 'sequence-gap', expectedSeq });
    expectedSeq = entry.seq + 1;
    try {
      const { payload } = await compactVerify(entry.jws, publicKey, { algorithms: ['EdDSA'] });
      if (new TextDecoder().decode(payload) !== entry.payload) problems.push({ seq: entry.seq, problem: 'payload-mismatch' });
    } catch (err) {
      problems.push({ seq: entry.seq, problem: 'signature', detail: err instanceof Error ? err.message : String(err) });
    }
    if (entryHash(entry.payload) !== entry.hash) problems.push({ seq: entry.seq, problem: 'hash-mismatch' });
    let actualPrev: string;
    try {
      actualPrev = readPrev(entry.payload);
    } catch {
      actualPrev = '';
    }
    if (actualPrev !== prev) problems.push({ seq: entry.seq, problem: 'broken-link', expectedPrev: prev, actualPrev });
    prev = entry.hash;
  }
  return problems;
}
