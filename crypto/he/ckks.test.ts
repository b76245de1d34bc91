import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  Ckks, HeError, MAX_FULL_CIPHERTEXT_BYTES, MAX_SEEDED_CIPHERTEXT_BYTES, SLOTS, ciphertextCount, packCiphertexts, unpackCiphertexts,
  type CkksKeyPair,
} from './ckks.ts';

let he: Ckks;
let keys: CkksKeyPair;
beforeAll(async () => {
  he = await Ckks.create();
  keys = he.generateKeys();
});
afterAll(() => he?.delete());

function sumThroughHe(updates: Float32Array[], mode: 'full' | 'seeded'): Float64Array {
  const n = updates[0]!.length;
  const acc = he.accumulator(ciphertextCount(n));
  try {
    for (const u of updates) acc.add(unpackCiphertexts(packCiphertexts(he.encrypt(keys, u, mode)), ciphertextCount(n), MAX_FULL_CIPHERTEXT_BYTES));
    return he.decrypt(keys.secretKey, acc.serialize(), n);
  } finally {
    acc.delete();
  }
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HeError ? err.code : `not an HeError: ${String(err)}`;
  }
  return undefined;
}

describe('CKKS aggregation', () => {
  test('max abs error of the decrypted sum vs the exact float64 sum is ≤ 1e-6 per parameter', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 3 * SLOTS + 17 }), fc.integer({ min: 1, max: 12 }), fc.double({ min: 1e-3, max: 50, noNaN: true }),
      fc.constantFrom('full' as const, 'seeded' as const), fc.integer(),
      (n, sites, magnitude, mode, seed) => {
        let s = seed >>> 0;
        const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
        const updates = Array.from({ length: sites }, () => Float32Array.from({ length: n }, () => rand() * magnitude));
        const exact = new Float64Array(n);
        for (const u of updates) for (let i = 0; i < n; i++) exact[i]! += u[i]!;
        const got = sumThroughHe(updates, mode);
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - exact[i]!));
        expect(worst).toBeLessThanOrEqual(1e-6);
      },
    ), { numRuns: 25 });
  });

  test('packs any model size across ⌈n/4096⌉ ciphertexts of bounded size', () => {
    const full = he.encrypt(keys, new Float32Array(51_200).fill(0.25));
    expect(full).toHaveLength(13);
    for (const c of full) expect(c.length).toBeLessThanOrEqual(MAX_FULL_CIPHERTEXT_BYTES);
    const seeded = he.encrypt(keys, new Float32Array(SLOTS + 1), 'seeded');
    expect(seeded).toHaveLength(2);
    for (const c of seeded) expect(c.length).toBeLessThanOrEqual(MAX_SEEDED_CIPHERTEXT_BYTES);
    expect(he.encrypt(keys, new Float32Array(0))).toHaveLength(0);
  });

  test('WASM heap stays flat over many rounds (every SEAL object is deleted)', () => {
    const n = 3 * SLOTS;
    const round = () => sumThroughHe([0, 1, 2, 3].map((i) => new Float32Array(n).fill(i / 10)), (Math.random() < 0.5 ? 'full' : 'seeded'));
    for (let i = 0; i < 5; i++) round();
    const before = he.heapBytes();
    expect(before).toBeGreaterThan(0);
    // One round allocates ~7 ciphertexts of 128 KiB each beyond the keys; leaking them for 60
    // rounds would grow the heap by ~50 MiB.
    for (let i = 0; i < 60; i++) round();
    expect(he.heapBytes()).toBe(before);
  });

  test('refuses out-of-range values, which would wrap modulo q0', () => {
    expect(code(() => he.encrypt(keys, Float32Array.of(1, 2 ** 19)))).toBe('HE_RANGE');
    expect(code(() => he.encrypt(keys, Float32Array.of(Number.NaN)))).toBe('HE_RANGE');
  });

  test('a truncated, oversized, garbled or miscounted ciphertext stream is rejected with a specific error', () => {
    const cts = he.encrypt(keys, new Float32Array(SLOTS + 5).fill(1));
    const packed = packCiphertexts(cts);
    expect(code(() => unpackCiphertexts(packed.subarray(0, packed.length - 1), 2, MAX_FULL_CIPHERTEXT_BYTES))).toBe('HE_MALFORMED_CIPHERTEXT');
    expect(code(() => unpackCiphertexts(packed.subarray(0, 2), 2, MAX_FULL_CIPHERTEXT_BYTES))).toBe('HE_MALFORMED_CIPHERTEXT');
    expect(code(() => unpackCiphertexts(packed, 3, MAX_FULL_CIPHERTEXT_BYTES))).toBe('HE_WRONG_COUNT');
    expect(code(() => unpackCiphertexts(packed, 1, MAX_FULL_CIPHERTEXT_BYTES))).toBe('HE_WRONG_COUNT');
    expect(code(() => unpackCiphertexts(packed, 2, MAX_SEEDED_CIPHERTEXT_BYTES))).toBe('HE_MALFORMED_CIPHERTEXT');
    const oversized = packCiphertexts([cts[0]!, new Uint8Array(MAX_FULL_CIPHERTEXT_BYTES + 1)]);
    expect(code(() => unpackCiphertexts(oversized, 2, MAX_FULL_CIPHERTEXT_BYTES))).toBe('HE_MALFORMED_CIPHERTEXT');

    const acc = he.accumulator(2);
    try {
      const garbled = Uint8Array.from(cts[1]!);
      garbled.fill(0xff, 200, 300); // coefficients ≥ q: SEAL refuses them
      expect(code(() => acc.add([cts[0]!, garbled]))).toBe('HE_MALFORMED_CIPHERTEXT');
      expect(code(() => acc.add([cts[0]!]))).toBe('HE_WRONG_COUNT');
      expect(code(() => acc.add([cts[0]!, cts[1]!.subarray(0, 1000)]))).toBe('HE_MALFORMED_CIPHERTEXT');
      // A refused site leaves nothing behind: the sum is that of the good site alone.
      expect(acc.contributors).toBe(0);
      acc.add(cts);
      const out = he.decrypt(keys.secretKey, acc.serialize(), SLOTS + 5);
      for (const v of out) expect(v).toBeCloseTo(1, 6);
    } finally {
      acc.delete();
    }
  });

  test('a ciphertext under other CKKS parameters is rejected', () => {
    const seal = he.seal;
    const own: Array<{ delete(): void }> = [];
    const keep = <H extends { delete(): void }>(h: H): H => { own.push(h); return h; };
    try {
      // Same ring, a smaller scale (2^30): loads under our context, but would be summed wrongly.
      const pub = keep(new seal.PublicKey());
      pub.loadFromArray(he.context, keys.publicKey);
      const encoder = keep(new seal.CKKSEncoder(he.context));
      const plain = keep(new seal.Plaintext());
      encoder.encode(new Float64Array(SLOTS).fill(1), 2 ** 30, plain);
      const cipher = keep(new seal.Ciphertext());
      keep(new seal.Encryptor(he.context, pub)).encrypt(plain, cipher);
      expect(code(() => he.loadCiphertext(Uint8Array.from(cipher.saveToArray(seal.ComprModeType.none) as Uint8Array)))).toBe('HE_PARAMETERS');

      // Another ring (N = 4096): SEAL itself refuses it.
      const parms = keep(new seal.EncryptionParameters(seal.SchemeType.ckks));
      parms.setPolyModulusDegree(4096);
      parms.setCoeffModulus(keep(seal.CoeffModulus.Create(4096, Int32Array.from([40, 40]))));
      const other = keep(new seal.SEALContext(parms, true, seal.SecLevelType.tc128));
      const keygen = keep(new seal.KeyGenerator(other));
      const otherPub = keep(keygen.createPublicKey());
      const otherPlain = keep(new seal.Plaintext());
      keep(new seal.CKKSEncoder(other)).encode(new Float64Array(2048).fill(1), 2 ** 30, otherPlain);
      const otherCipher = keep(new seal.Ciphertext());
      keep(new seal.Encryptor(other, otherPub)).encrypt(otherPlain, otherCipher);
      const bytes = Uint8Array.from(otherCipher.saveToArray(seal.ComprModeType.none) as Uint8Array);
      expect(code(() => he.loadCiphertext(bytes))).toMatch(/^HE_(MALFORMED_CIPHERTEXT|PARAMETERS)$/);
    } finally {
      for (const h of own.reverse()) h.delete();
    }
  });

  test('a secret key that is not a key of these parameters is refused', () => {
    expect(code(() => he.decrypt(new Uint8Array(100), he.encrypt(keys, new Float32Array(3)), 3))).toBe('HE_KEY');
  });

  test('every encryption draws fresh randomness (SEAL\'s seeds come through a batched OS-randomness pool)', () => {
    // 16 host draws of 4 bytes per ciphertext: 100 ciphertexts (6.4 KiB) refill the 4 KiB pool.
    const values = Float64Array.from({ length: 8 }, (_, i) => i);
    for (const mode of ['seeded', 'full'] as const) {
      const seen = new Set<string>();
      for (let i = 0; i < (mode === 'seeded' ? 100 : 20); i++) seen.add(createHash('sha256').update(he.encrypt(keys, values, mode)[0]!).digest('hex'));
      expect(seen.size).toBe(mode === 'seeded' ? 100 : 20);
    }
    const other = he.generateKeys();
    expect(Buffer.from(other.secretKey).equals(Buffer.from(keys.secretKey))).toBe(false);
  });
});
