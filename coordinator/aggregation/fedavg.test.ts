import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FedAvg } from './fedavg.ts';

describe('streaming weighted FedAvg', () => {
  it('equals base + Σ nᵢΔᵢ / Σ nᵢ, whatever the order updates arrive in', () => {
    const update = fc.record({ n: fc.integer({ min: 1, max: 10_000 }), delta: fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }) });
    fc.assert(fc.property(fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 4, maxLength: 4 }), fc.array(update, { minLength: 1, maxLength: 8 }), (baseArr, updates) => {
      const base = Float32Array.from(baseArr);
      const expected = base.map((b, i) => b + updates.reduce((s, u) => s + u.n * u.delta[i]!, 0) / updates.reduce((s, u) => s + u.n, 0));
      for (const order of [updates, [...updates].reverse()]) {
        const acc = new FedAvg().begin(base);
        for (const u of order) acc.add(Float32Array.from(u.delta), u.n);
        const next = acc.finalize();
        for (let i = 0; i < 4; i++) expect(next[i]).toBeCloseTo(expected[i]!, 3);
      }
    }));
  });

  it('refuses updates of the wrong size, non-positive weights and an empty round', () => {
    const acc = new FedAvg().begin(new Float32Array(3));
    expect(() => acc.add(new Float32Array(2), 1)).toThrow(/3/);
    expect(() => acc.add(new Float32Array(3), 0)).toThrow(/positive/);
    expect(() => acc.finalize()).toThrow(/without updates/);
  });
});
