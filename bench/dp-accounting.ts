/**
 * ε for 10,000 heterogeneous rounds (and for histories of 200 and 2,000 events that share no parameters)
 * with the RDP and PLD accountants, and how far each is above the exact (unbucketed, uninterpolated)
 * composition of the same events.
 * Run: node_modules/.bin/node bench/dp-accounting.ts [--exact]   (prints JSON; --exact adds the exact PLD
 * composition, ~10⁴ FFTs: tens of seconds)
 */
import { computeEpsilon } from '../crypto/dp/accountant.ts';
import type { GaussianEvent } from '../crypto/dp/events.ts';
import { pldEpsilon } from '../crypto/dp/pld.ts';
import { composeRdp } from '../crypto/dp/rdp-compose.ts';
import { DEFAULT_ORDERS, epsilonFromRdp } from '../crypto/dp/rdp.ts';
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

/**
 * `n` distinct events, each its own σ ∈ [σLo, σHi], q log-uniform in [qLo, qHi] and 1…maxCount rounds:
 * histories that share no parameters at all (the hard case for bucketing).
 */
function random(n: number, seed: number, [sLo, sHi]: [number, number], [qLo, qHi]: [number, number], maxCount: number): GaussianEvent[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, () => ({
    noiseMultiplier: sLo + (sHi - sLo) * rnd(),
    sampleRate: Math.exp(Math.log(qLo) + rnd() * Math.log(qHi / qLo)),
    count: 1 + Math.floor(rnd() * maxCount),
  }));
}

function time<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: Math.round((performance.now() - t0) * 10) / 10 };
}

const withExactPld = process.argv.includes('--exact');
const results: Record<string, unknown> = {};
// Warm up the JIT on small problems (one exact, one on the RDP grid) so the timings below measure
// steady-state code.
computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 10 }], DELTA, 'rdp');
computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 10 }], DELTA, 'pld');
computeEpsilon(continuous().slice(0, 500), DELTA, 'rdp');
const workloads: [string, GaussianEvent[]][] = [
  ['federated', federated()],
  ['continuous', continuous()],
  ['random-200', random(200, 3, [0.8, 2], [1e-3, 0.05], 50)],
  ['random-2000', random(2000, 4, [0.8, 2], [1e-3, 0.05], 50)],
  ['wide-2000', random(2000, 5, [0.5, 3], [1e-3, 0.3], 20)],
];
for (const [name, events] of workloads) {
  const distinct = new Set(events.map((e) => `${e.noiseMultiplier}|${e.sampleRate}`)).size;
  const rdp = time(() => computeEpsilon(events, DELTA, 'rdp'));
  const pld = time(() => computeEpsilon(events, DELTA, 'pld'));
  const rdpExact = time(() => epsilonFromRdp(DEFAULT_ORDERS, composeRdp(events, DEFAULT_ORDERS, { exactDistinct: Infinity }), DELTA));
  const pldExact = withExactPld ? time(() => pldEpsilon(events, DELTA, { maxDistinctEvents: Infinity, bucketTo: Infinity })) : null;
  results[name] = {
    rounds: events.reduce((sum, e) => sum + e.count, 0),
    distinctEvents: distinct,
    delta: DELTA,
    rdp: { epsilon: rdp.value.epsilon, order: rdp.value.order, ms: rdp.ms, overExact: rdp.value.epsilon / rdpExact.value.epsilon },
    pld: { epsilon: pld.value.epsilon, ms: pld.ms, ...(pldExact ? { overExact: pld.value.epsilon / pldExact.value } : {}) },
    exact: {
      rdp: { epsilon: rdpExact.value.epsilon, ms: rdpExact.ms },
      ...(pldExact ? { pld: { epsilon: pldExact.value, ms: pldExact.ms } } : {}),
    },
    pldOverRdp: pld.value.epsilon / rdp.value.epsilon,
  };
}
console.log(JSON.stringify({ node: process.version, ...results }, null, 2));
