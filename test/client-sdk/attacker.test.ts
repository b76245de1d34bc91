/** The simulation's attacker sites (client-sdk/simulation/attacker.ts) send what each attack says, and only that. */
import { expect, test } from 'vitest';
import { SCALED_RANDOM_FACTOR, attackingTrainer } from '../../client-sdk/simulation/attacker.ts';
import type { LocalTrainer } from '../../client-sdk/training/local-trainer.ts';
import type { RoundPlanMsg } from '../../protocols/index.ts';

const global = { version: 3, topologyJson: '{}', layout: [{ name: 'w', shape: [4], dtype: 'float32' as const }], values: Float32Array.from([0.5, -1, 2, 0]) };
const plan = { seed: 7 } as RoundPlanMsg;
let trained = 0;
const honest: LocalTrainer = {
  init: async () => ({ backend: 'fake', reason: 'test' }),
  dispose: () => undefined,
  async *train() {
    trained++;
    yield { epoch: 1, epochs: 1, batch: 1, batches: 1, loss: 0.3 } as never;
    return { delta: Float32Array.from([3, 4, 0, 0]), numExamples: 120, loss: 0.3, accuracy: 0.9, steps: 4 };
  },
};

async function run(trainer: LocalTrainer) {
  const gen = trainer.train(global, plan);
  let step = await gen.next();
  while (!step.done) step = await gen.next();
  return step.value;
}
const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('huge-update: ±3.4e38 in every coordinate, with the site\'s true example count, without training', async () => {
  trained = 0;
  const r = await run(attackingTrainer(honest, 'huge-update', 120));
  expect([...r.delta].every((x) => Math.abs(x) === 3.4028234663852886e38)).toBe(true);
  expect(new Set([...r.delta].map(Math.sign)).size).toBe(2);
  expect(r.numExamples).toBe(120);
  expect(trained).toBe(0);
});

test('inflated-count: Δ = −w claiming 1e9 examples', async () => {
  const r = await run(attackingTrainer(honest, 'inflated-count', 120));
  expect([...r.delta]).toEqual([-0.5, 1, -2, -0]);
  expect(r.numExamples).toBe(1_000_000_000);
});

test('scaled-random: a random direction at 100× the honest update\'s norm, same seed same direction', async () => {
  trained = 0;
  const a = await run(attackingTrainer(honest, 'scaled-random', 120));
  const b = await run(attackingTrainer(honest, 'scaled-random', 120));
  expect(trained).toBe(2);
  expect(norm(a.delta)).toBeCloseTo(SCALED_RANDOM_FACTOR * 5, 3);
  expect([...a.delta]).toEqual([...b.delta]);
  expect(a.numExamples).toBe(120);
});
