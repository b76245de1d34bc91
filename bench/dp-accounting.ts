/**
 * ε for 10,000 heterogeneous rounds with the RDP and PLD accountants.
 * Run: node_modules/.bin/node bench/dp-accounting.ts   (prints JSON)
 */
import { computeEpsilon } from '../crypto/dp/accountant.ts';
import type { GaussianEvent } from '../crypto/dp/events.ts';
import { createRng } from '../client-sdk/data/dataset.ts';

/** Deterministic workload generator (not used for noise). */
function prng(seed: number): () => number {
  const rng = createRng(seed);
  return () => rng.next();
}

const ROUNDS = 10_000;
const DELTA = 1e-5;

/** Federated rounds: σ_eff = σ·√(survivors/expected) with random dropouts, q changing in 4 phases. */
function federated(): GaussianEvent[] {
  const rnd = prng(1);
  const phases = [0.01, 0.02, 0.015, 0.005];
  const out: GaussianEvent[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const survivors = 80 + Math.floor(rnd() * 21);
    out.push({ noiseMultiplier: 1.1 * Math.sqrt(survivors / 100), sampleRate: phases[Math.floor((r * 4) / ROUNDS)]!, count: 1 });
  }
  return out;
}

/** Every round different: σ ~ U[0.9, 1.3], q ~ U[0.005, 0.02] (forces pessimistic bucketing). */
function continuous(): GaussianEvent[] {
  const rnd = prng(2);
  const out: GaussianEvent[] = [];
  for (let r = 0; r < ROUNDS; r++) out.push({ noiseMultiplier: 0.9 + 0.4 * rnd(), sampleRate: 0.005 + 0.015 * rnd(), count: 1 });
  return out;
}

function time<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: Math.round((performance.now() - t0) * 10) / 10 };
}

const results: Record<string, unknown> = {};
// Warm up the JIT on a small problem so the timings below measure steady-state code.
computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 10 }], DELTA, 'rdp');
computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 10 }], DELTA, 'pld');
for (const [name, events] of [['federated', federated()], ['continuous', continuous()]] as const) {
  const distinct = new Set(events.map((e) => `${e.noiseMultiplier}|${e.sampleRate}`)).size;
  const rdp = time(() => computeEpsilon(events, DELTA, 'rdp'));
  const pld = time(() => computeEpsilon(events, DELTA, 'pld'));
  results[name] = {
    rounds: events.length,
    distinctEvents: distinct,
    delta: DELTA,
    rdp: { epsilon: rdp.value.epsilon, order: rdp.value.order, ms: rdp.ms },
    pld: { epsilon: pld.value.epsilon, ms: pld.ms },
    pldOverRdp: pld.value.epsilon / rdp.value.epsilon,
  };
}
console.log(JSON.stringify({ node: process.version, ...results }, null, 2));
