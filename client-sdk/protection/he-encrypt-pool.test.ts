import { afterAll, beforeAll, expect, test } from 'vitest';
import { Ckks, HeError, SLOTS, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { HeEncryptPool } from './he-encrypt-pool.ts';

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
