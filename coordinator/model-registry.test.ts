import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.ts';
import { ModelRegistry, type OptimizerStateRef } from './model-registry.ts';
import { checkStep, type OptimizerState, type ServerOptimizer } from './aggregation/server-optimizers.ts';
import { sha256OfFloats, type TensorSpec } from '../protocols/index.ts';

const F = 'fed-1';
const SIZE = 6;
const LAYOUT: TensorSpec[] = [{ name: 'w', shape: [SIZE], dtype: 'float32' }];

/** A tiny stateful optimizer (heavy-ball momentum with a step count), only to prove state survives a restart. */
function momentum(beta: number): ServerOptimizer {
  return {
    name: 'test-momentum',
    apply(base, delta, state) {
      checkStep('test-momentum', base, delta, state);
      const velocity = new Float32Array(base.length);
      const next = new Float32Array(base.length);
      for (let i = 0; i < base.length; i++) {
        velocity[i] = beta * (state?.vectors['velocity']![i] ?? 0) + delta[i]!;
        next[i] = base[i]! + velocity[i]!;
      }
      return { next, state: { optimizer: 'test-momentum', scalars: { step: (state?.scalars['step'] ?? 0) + 1, beta }, vectors: { velocity } } };
    },
  };
}

function deltaOf(round: number): Float32Array {
  return Float32Array.from({ length: SIZE }, (_, i) => Math.sin(round * 7 + i) / (i + 1));
}

let dir: string;

function open(): { store: Store; registry: ModelRegistry } {
  const store = new Store(dir);
  return { store, registry: new ModelRegistry(store) };
}

/** One commit as the round pipeline makes it: blob and state durable first, then one transaction. */
async function commit(registry: ModelRegistry, store: Store, version: number, weights: Float32Array, state: OptimizerState | null): Promise<void> {
  const { blobPath, sha256 } = await registry.writeBlob(F, version, weights);
  const optimizerState = state ? await registry.writeOptimizerState(F, version, state) : null;
  store.transaction(() => registry.insertVersion({
    federationId: F, version, parentVersion: version === 0 ? null : version - 1, roundId: null, sha256, numParameters: weights.length,
    layout: LAYOUT, blobPath, metrics: {}, optimizerState,
  }));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-registry-'));
  const { store, registry } = open();
  store.db.prepare(`INSERT INTO federations (id, name, config_json, topology_json, status, created_ms) VALUES (?, 'f', '{}', '{}', 'running', 0)`).run(F);
  await commit(registry, store, 0, Float32Array.from({ length: SIZE }, (_, i) => i), null);
  store.close();
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('model blobs', () => {
  it('a model-sized blob is hashed and written off the event loop, and reads back identical under its digest', async () => {
    const { store, registry } = open();
    try {
      const n = 1 << 21; // 8 MiB: past the size that goes off the loop
      const weights = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-3);
      let loopTurned = false;
      setImmediate(() => { loopTurned = true; });
      const { blobPath, sha256 } = await registry.writeBlob(F, 1, weights);
      // Hashed on the loop and written with the *Sync calls, the promise resolved before any
      // macrotask could run.
      expect(loopTurned).toBe(true);
      expect(sha256.equals(sha256OfFloats(weights))).toBe(true);
      store.transaction(() => registry.insertVersion({
        federationId: F, version: 1, parentVersion: 0, roundId: null, sha256, numParameters: n,
        layout: [{ name: 'w', shape: [n], dtype: 'float32' }], blobPath, metrics: {},
      }));
      const back = registry.readWeights(registry.get(F, 1));
      expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(weights.buffer))).toBe(true);
      expect(readdirSync(join(dir, 'models', F)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe('optimizer state persistence', () => {
  it('a state written with a version reads back identical after the store is reopened', async () => {
    const state = fc.record({
      step: fc.integer({ min: 0, max: 1e6 }),
      lr: fc.double({ noNaN: true, noDefaultInfinity: true }),
      m: fc.array(fc.float({ noNaN: true }), { minLength: SIZE, maxLength: SIZE }),
      v: fc.array(fc.float(), { minLength: SIZE, maxLength: SIZE }),
    });
    let version = 0;
    await fc.assert(fc.asyncProperty(state, async (s) => {
      version++;
      const written: OptimizerState = { optimizer: 'adam', scalars: { step: s.step, lr: s.lr }, vectors: { v: Float32Array.from(s.v), m: Float32Array.from(s.m) } };
      let { store, registry } = open();
      await commit(registry, store, version, new Float32Array(SIZE), written);
      store.close();
      ({ store, registry } = open());
      try {
        const read = registry.readOptimizerState(registry.get(F, version));
        expect(read).toEqual(written);
        // Bit for bit, NaN payloads and -0 included.
        for (const key of ['m', 'v']) expect(Buffer.from(read!.vectors[key]!.buffer).equals(Buffer.from(written.vectors[key]!.buffer))).toBe(true);
      } finally {
        store.close();
      }
    }), { numRuns: 25 });
  });

  it('a stateful optimizer restarted between every round ends exactly where an uninterrupted one does', async () => {
    const optimizer = momentum(0.9);
    let weights: Float32Array = Float32Array.from({ length: SIZE }, (_, i) => i);
    let state: OptimizerState | null = null;
    for (let round = 1; round <= 4; round++) ({ next: weights, state } = optimizer.apply(weights, deltaOf(round), state));

    for (let round = 1; round <= 4; round++) {
      const { store, registry } = open(); // a fresh process each round
      try {
        const base = registry.get(F, registry.latestVersion(F)!);
        const step = optimizer.apply(registry.readWeights(base), deltaOf(round), registry.readOptimizerState(base));
        await commit(registry, store, round, step.next, step.state);
      } finally {
        store.close();
      }
    }
    const { store, registry } = open();
    try {
      const last = registry.get(F, 4);
      expect(registry.readWeights(last)).toEqual(weights);
      expect(registry.readOptimizerState(last)).toEqual(state);
      expect(registry.readOptimizerState(registry.get(F, 0))).toBeNull();
      expect(registry.get(F, 0).optimizerState).toBeNull();
    } finally {
      store.close();
    }
  });

  it('refuses a state file that does not match its digest, and vectors that are not model-sized', async () => {
    const { store, registry } = open();
    try {
      await commit(registry, store, 1, new Float32Array(SIZE), { optimizer: 'x', scalars: { step: 1 }, vectors: { m: new Float32Array(SIZE).fill(1) } });
      const ref = registry.get(F, 1).optimizerState!;
      const path = join(dir, ref.path);
      const bytes = readFileSync(path);
      bytes[bytes.length - 1]! ^= 1;
      writeFileSync(path, bytes);
      expect(() => registry.readOptimizerState(registry.get(F, 1))).toThrow(expect.objectContaining({ code: 'DIGEST_MISMATCH' }));

      await commit(registry, store, 2, new Float32Array(SIZE), { optimizer: 'x', scalars: {}, vectors: { m: new Float32Array(SIZE + 1) } });
      expect(() => registry.readOptimizerState(registry.get(F, 2))).toThrow(expect.objectContaining({ code: 'LAYOUT_MISMATCH' }));
      await expect(registry.writeOptimizerState(F, 3, { optimizer: 'x', scalars: { step: Number.NaN }, vectors: {} })).rejects.toThrow(/not finite/);
    } finally {
      store.close();
    }
  });

  it('a version records both the path and the digest of its state, or neither', () => {
    const { store } = open();
    try {
      const insert = (path: string | null, digest: Buffer | null) => store.db.prepare(`INSERT INTO model_versions
        (federation_id, version, sha256, num_parameters, layout_json, blob_path, created_ms, optimizer_state_path, optimizer_state_sha256)
        VALUES (?, 9, x'00', 1, '[]', 'x', 0, ?, ?)`).run(F, path, digest);
      expect(() => insert('models/x.opt', null)).toThrow(/CHECK/);
      expect(() => insert(null, Buffer.alloc(32))).toThrow(/CHECK/);
    } finally {
      store.close();
    }
  });

  it('orphan cleanup keeps committed states and removes states a crash left uncommitted', async () => {
    const { store, registry } = open();
    try {
      await commit(registry, store, 1, new Float32Array(SIZE), { optimizer: 'x', scalars: {}, vectors: { m: new Float32Array(SIZE) } });
      const kept = registry.get(F, 1).optimizerState!;
      // A crash after the state was written but before the transaction: no row points at it.
      const orphan: OptimizerStateRef = await registry.writeOptimizerState(F, 2, { optimizer: 'x', scalars: { step: 2 }, vectors: { m: new Float32Array(SIZE) } });
      const orphanBlob = await registry.writeBlob(F, 2, new Float32Array(SIZE).fill(2));
      writeFileSync(join(dir, 'models', F, 'v2-partial.opt.tmp-1'), 'partial');
      const removed = registry.removeOrphans().map((p) => p.slice(dir.length + 1)).sort();
      expect(removed).toEqual([orphan.path, orphanBlob.blobPath, join('models', F, 'v2-partial.opt.tmp-1')].sort());
      const left = readdirSync(join(dir, 'models', F));
      expect(left).toContain(kept.path.split('/').at(-1));
      expect(registry.readOptimizerState(registry.get(F, 1))).not.toBeNull();
      expect(registry.readWeights(registry.get(F, 0))).toHaveLength(SIZE);
    } finally {
      store.close();
    }
  });
});
