import { beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import fc from 'fast-check';
import {
  LEGACY_GENESIS_HASH, checkChain, checkEntrySignature, entryHash, genesisHash, keyFingerprint, ledgerKeyFromJwks, signEntry, verifyChain, type ChainProblem,
} from './ledger-signing.ts';
import { generateSigningKeys, publicJwks, type SigningKeys } from './tokens.ts';

interface Entry { seq: number; payload: string; hash: string; jws: string }

const readPrev = (payload: string) => (JSON.parse(payload) as { prevHash: string }).prevHash;

let keys: SigningKeys;
let other: SigningKeys;
let chain: Entry[];

async function buildChain(k: SigningKeys, n: number): Promise<Entry[]> {
  const out: Entry[] = [];
  let prev = LEGACY_GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const payload = JSON.stringify({ format: 'conclave-ledger/1', seq, prevHash: prev, event: { noiseMultiplier: 1 + seq / 10, sampleRate: 0.5 } });
    const signed = await signEntry(k.privateKey, k.keyId, payload);
    out.push({ seq, ...signed });
    prev = signed.hash;
  }
  return out;
}

const kinds = (problems: ChainProblem[]) => problems.map((p) => `${p.seq}:${p.problem}`);
const clone = () => chain.map((e) => ({ ...e }));

beforeAll(async () => {
  keys = await generateSigningKeys();
  other = await generateSigningKeys();
  chain = await buildChain(keys, 5);
});

describe('ledger signing and chain verification', () => {
  it('an intact chain verifies with no problems, and the hash is the payload digest', async () => {
    expect(await verifyChain(keys.publicKey, chain, readPrev)).toEqual([]);
    expect(chain[0]!.hash).toBe(entryHash(chain[0]!.payload));
    expect(readPrev(chain[0]!.payload)).toBe(LEGACY_GENESIS_HASH);
    expect(await verifyChain(keys.publicKey, [], readPrev)).toEqual([]);
  });

  it('a changed payload (hash left alone) is a payload mismatch and a hash mismatch at that entry (the next link uses the stored hash, so it holds)', async () => {
    const tampered = clone();
    tampered[2]!.payload = tampered[2]!.payload.replace('"noiseMultiplier":1.3', '"noiseMultiplier":9.3');
    expect(tampered[2]!.payload).not.toBe(chain[2]!.payload);
    const problems = await verifyChain(keys.publicKey, tampered, readPrev);
    expect(kinds(problems)).toEqual(['3:payload-mismatch', '3:hash-mismatch']);
  });

  it('a changed payload with its hash recomputed still fails the signature check and breaks the next link', async () => {
    const tampered = clone();
    tampered[2]!.payload = tampered[2]!.payload.replace('"noiseMultiplier":1.3', '"noiseMultiplier":9.3');
    tampered[2]!.hash = entryHash(tampered[2]!.payload);
    const problems = await verifyChain(keys.publicKey, tampered, readPrev);
    expect(kinds(problems)).toEqual(['3:payload-mismatch', '4:broken-link']);
  });

  it('a changed stored hash is a hash mismatch and a broken link for the successor', async () => {
    const tampered = clone();
    tampered[1]!.hash = 'f'.repeat(64);
    const problems = await verifyChain(keys.publicKey, tampered, readPrev);
    expect(kinds(problems)).toEqual(['2:hash-mismatch', '3:broken-link']);
    const link = problems.find((p) => p.problem === 'broken-link');
    expect(link).toMatchObject({ expectedPrev: 'f'.repeat(64), actualPrev: chain[1]!.hash });
  });

  it('reordering two entries is detected (sequence gaps and broken links)', async () => {
    const reordered = clone();
    [reordered[1], reordered[2]] = [reordered[2]!, reordered[1]!];
    const problems = await verifyChain(keys.publicKey, reordered, readPrev);
    expect(problems.some((p) => p.problem === 'sequence-gap')).toBe(true);
    expect(problems.filter((p) => p.problem === 'broken-link').map((p) => p.seq).sort()).toEqual([2, 3, 4]);
    expect(problems.some((p) => p.problem === 'signature' || p.problem === 'payload-mismatch' || p.problem === 'hash-mismatch')).toBe(false);
  });

  it('a deleted middle entry is a sequence gap and a broken link at its successor', async () => {
    const deleted = clone();
    deleted.splice(2, 1);
    const problems = await verifyChain(keys.publicKey, deleted, readPrev);
    expect(problems).toEqual([
      { seq: 4, problem: 'sequence-gap', expectedSeq: 3 },
      { seq: 4, problem: 'broken-link', expectedPrev: chain[1]!.hash, actualPrev: chain[2]!.hash },
    ]);
  });

  it('a deleted first entry and a deleted last entry: the first is caught, the last is indistinguishable from a shorter chain', async () => {
    expect(kinds(await verifyChain(keys.publicKey, clone().slice(1), readPrev))).toEqual(['2:sequence-gap', '2:broken-link']);
    expect(await verifyChain(keys.publicKey, clone().slice(0, -1), readPrev)).toEqual([]);
  });

  it('an entry re-signed with another key is a signature problem, though payload and hash are intact', async () => {
    const forged = clone();
    const resigned = await signEntry(other.privateKey, keys.keyId, forged[3]!.payload);
    forged[3]!.jws = resigned.jws;
    expect(resigned.hash).toBe(forged[3]!.hash);
    const problems = await verifyChain(keys.publicKey, forged, readPrev);
    expect(kinds(problems)).toEqual(['4:signature']);
  });

  it('a whole chain signed by another key fails at every entry', async () => {
    const foreign = await buildChain(other, 3);
    const problems = await verifyChain(keys.publicKey, foreign, readPrev);
    expect(kinds(problems)).toEqual(['1:signature', '2:signature', '3:signature']);
  });

  it('a JWS from another entry (valid signature, other payload) is a payload mismatch', async () => {
    const swapped = clone();
    swapped[0]!.jws = chain[1]!.jws;
    expect(kinds(await verifyChain(keys.publicKey, swapped, readPrev))).toEqual(['1:payload-mismatch']);
  });

  it('an unparseable payload counts as a broken link, not a crash', async () => {
    const broken = clone();
    const payload = 'not json';
    const signed = await signEntry(keys.privateKey, keys.keyId, payload);
    broken[0] = { seq: 1, ...signed };
    const problems = await verifyChain(keys.publicKey, broken, readPrev);
    expect(kinds(problems)).toEqual(['1:broken-link', '2:broken-link']);
  });
});

describe('federation-bound genesis, pinned key ids and fingerprints', () => {
  it('genesisHash is deterministic, differs per federation and from the legacy all-zero genesis', () => {
    expect(genesisHash('fed-a')).toBe(genesisHash('fed-a'));
    expect(genesisHash('fed-a')).toMatch(/^[0-9a-f]{64}$/);
    expect(genesisHash('fed-a')).not.toBe(genesisHash('fed-b'));
    expect(genesisHash('fed-a')).not.toBe(LEGACY_GENESIS_HASH);
    // Domain-separated: not simply the hash of the id.
    expect(genesisHash('fed-a')).not.toBe(entryHash('fed-a'));
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => a === b || genesisHash(a) !== genesisHash(b)));
  });

  it('a chain started at one genesis does not verify from another', async () => {
    expect(await verifyChain(keys.publicKey, chain, readPrev, { genesis: genesisHash('fed-a') })).toEqual([
      { seq: 1, problem: 'broken-link', expectedPrev: genesisHash('fed-a'), actualPrev: LEGACY_GENESIS_HASH },
    ]);
  });

  it('with a pinned key id, an entry naming another kid is wrong-key-id even when the signature verifies', async () => {
    const signed = await signEntry(keys.privateKey, 'someone-else', chain[0]!.payload);
    expect(checkEntrySignature(keys.publicKey, signed.jws, signed.payload, keys.keyId)).toEqual([
      { problem: 'wrong-key-id', expectedKeyId: keys.keyId, actualKeyId: 'someone-else' },
    ]);
    expect(checkEntrySignature(keys.publicKey, signed.jws, signed.payload)).toEqual([]);
    const forged = await signEntry(other.privateKey, other.keyId, chain[0]!.payload);
    expect(checkEntrySignature(keys.publicKey, forged.jws, forged.payload, keys.keyId).map((p) => p.problem)).toEqual(['signature', 'wrong-key-id']);
  });

  it('refuses JWS that are not ledger signatures: wrong typ or alg, crit headers, garbage', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const [, payloadPart, sig] = chain[0]!.jws.split('.') as [string, string, string];
    for (const header of [{ alg: 'EdDSA', kid: keys.keyId, typ: 'JWT' }, { alg: 'none', kid: keys.keyId, typ: 'conclave-ledger+jws' }, { alg: 'EdDSA', typ: 'conclave-ledger+jws', crit: ['x'], x: 1 }]) {
      expect(checkEntrySignature(keys.publicKey, `${b64(header)}.${payloadPart}.${sig}`, chain[0]!.payload)[0]!.problem).toBe('signature');
    }
    expect(checkEntrySignature(keys.publicKey, 'a.b', chain[0]!.payload)).toEqual([{ problem: 'signature', detail: 'not a compact JWS' }]);
    expect(checkEntrySignature(keys.publicKey, '!!.b.c', chain[0]!.payload)[0]!.problem).toBe('signature');
  });

  it('keyFingerprint is the RFC 7638 thumbprint, and ledgerKeyFromJwks takes the one public key of a JWKS', async () => {
    const jwk = await exportJWK(keys.publicKey);
    expect(keyFingerprint(keys.publicKey)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    expect(keyFingerprint(keys.publicKey)).not.toBe(keyFingerprint(other.publicKey));
    const jwks = await publicJwks(keys);
    const parsed = ledgerKeyFromJwks(jwks);
    expect(parsed).toMatchObject({ keyId: keys.keyId, fingerprint: keyFingerprint(keys.publicKey) });
    expect(checkChain(parsed.publicKey, chain, readPrev, { keyId: parsed.keyId })).toEqual([]);
    expect(ledgerKeyFromJwks(jwks.keys[0]).fingerprint).toBe(parsed.fingerprint);
    expect(() => ledgerKeyFromJwks({ keys: [] })).toThrow(/exactly one/);
    const two = { keys: [...jwks.keys, ...(await publicJwks(other)).keys] };
    expect(() => ledgerKeyFromJwks(two)).toThrow(/exactly one/);
    expect(() => ledgerKeyFromJwks({ kty: 'RSA', n: 'x', e: 'AQAB' })).toThrow(/Ed25519/);
    expect(() => ledgerKeyFromJwks({ ...jwks.keys[0], d: 'secret' })).toThrow(/private/);
  });

  it('the verified-signature cache skips re-verification only for the exact (payload, JWS) it verified', async () => {
    const verified = new Map<string, string>();
    expect(checkChain(keys.publicKey, chain, readPrev, { verified })).toEqual([]);
    expect(verified.size).toBe(chain.length);
    // A cached entry whose JWS was swapped for a forgery is verified again, and fails.
    const forged = clone();
    forged[1]!.jws = (await signEntry(other.privateKey, keys.keyId, forged[1]!.payload)).jws;
    expect(kinds(checkChain(keys.publicKey, forged, readPrev, { verified }))).toEqual(['2:signature']);
    // A changed payload (hash kept) misses the cache too.
    const edited = clone();
    edited[0]!.payload = edited[0]!.payload.replace('1.1', '9.1');
    expect(kinds(checkChain(keys.publicKey, edited, readPrev, { verified }))).toEqual(['1:payload-mismatch', '1:hash-mismatch']);
    expect(verified.size).toBe(chain.length);
  });
});

