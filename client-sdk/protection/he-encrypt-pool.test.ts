import { afterAll, beforeAll, expect, test } from 'vitest';
import { Ckks, HeError, SLOTS, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { HeEncryptPool, HeEncryption, MIN_POOLED_CIPHERTEXTS, poolMayPay, TRIALS } from './he-encrypt-pool.ts';

let he: Ckks;
let keys: CkksKeyPair;
let pool: HeEncryptPool;
beforeAll(async () => {
  he = await Ckks.create();
  keys = he.generateKeys();
  pool = new HeEncryptPool(2);
});
afterAll(async () => {
  await pool?.close();
  he?.delete();
});

test('two workers make the ciphertexts one thread makes: same count, same order, same sums', async () => {
  for (const n of [1, SLOTS, 2 * SLOTS + 1, 5 * SLOTS - 3]) {
    const values = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    for (const mode of ['seeded', 'full'] as const) {
      const cts = await pool.encrypt(keys, values, mode);
      expect(cts).toHaveLength(Math.ceil(n / SLOTS));
      const out = he.decrypt(keys.secretKey, cts, n);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - values[i]!));
      expect(worst).toBeLessThan(1e-6);
    }
  }
});

test('a worker\'s refusal arrives as the same HeError one thread throws', async () => {
  const bad = new Float64Array(3 * SLOTS);
  bad[2 * SLOTS + 1] = Number.NaN;
  await expect(pool.encrypt(keys, bad, 'seeded')).rejects.toSatisfy((e: unknown) => e instanceof HeError && e.code === 'HE_RANGE');
});

test('close() ends the workers: a job in flight is rejected, not left pending, and later jobs are refused', async () => {
  const own = new HeEncryptPool(1);
  await own.ready();
  const inFlight = expect(own.encrypt(keys, new Float64Array(64 * SLOTS), 'seeded')).rejects.toThrow(/closed/);
  // Posted to the worker (a macrotask later), so it is the worker's exit that must settle it.
  await new Promise((resolve) => setTimeout(resolve, 10));
  await own.close();
  await inFlight;
  await expect(own.encrypt(keys, new Float64Array(1), 'seeded')).rejects.toThrow(/closed/);
});

test('auto encryption keeps small updates on this thread, and times both ways on large ones before choosing', async () => {
  const enc = new HeEncryption(async () => he, 'auto');
  try {
    const small = Float64Array.from({ length: 3 * SLOTS }, (_, i) => Math.cos(i));
    expect(he.decrypt(keys.secretKey, await enc.encrypt(keys, small, 'seeded'), small.length)[5]).toBeCloseTo(small[5]!, 6);
    expect(enc.chosen).toBeUndefined();
    const n = MIN_POOLED_CIPHERTEXTS * SLOTS;
    // A pool is never tried with one core, nor for an update below the threshold.
    expect([poolMayPay(n, 1), poolMayPay(n - SLOTS, 16), poolMayPay(n, 2)]).toEqual([false, false, true]);
    const large = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    for (let trial = 0; trial < 2 * TRIALS + 1; trial++) {
      const out = he.decrypt(keys.secretKey, await enc.encrypt(keys, large, 'seeded'), n);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - large[i]!));
      expect(worst).toBeLessThan(1e-6);
    }
    // With a second core it has timed both (TRIALS each) and settled; with one it never pools.
    if (poolMayPay(n)) expect(['thread', 'pool']).toContain(enc.chosen);
    else expect(enc.chosen).toBeUndefined();
  } finally {
    await enc.close();
  }
});
