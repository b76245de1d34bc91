/**
 * SIMULATION ONLY: the hostile sites of `conclave simulate --attackers K --attack KIND` (and
 * `--byzantine K`), which measure what the coordinator's bounds and the robust aggregators hold
 * against (issue 13, issue 12). An attacker is an enrolled site with a real token that follows
 * the protocol to the letter and lies in what it sends. It is reachable only from `participant
 * host`, which simulate runs; a real site never loads it.
 *
 * - `huge-update`: Δ = ±3.4e38 (the largest float32) in every coordinate, with its true example
 *   count; unbounded, it overflows the sum and commits a model containing Infinity.
 * - `inflated-count`: Δ = −w (erase the global model), claiming 1e9 examples; weighted by its
 *   claim, it owns the average.
 * - `scaled-random` (`--byzantine`): a Gaussian direction with SCALED_RANDOM_FACTOR times the norm
 *   of the update the site honestly trained, the "Gaussian" Byzantine attack of the robust
 *   aggregation literature (Blanchard et al. 2017, Fang et al. 2020).
 */
import type { RoundPlanMsg } from '../../protocols/index.ts';
import { createRng } from '../data/dataset.ts';
import type { TrainProgress } from '../training/trainer.ts';
import type { GlobalModel, LocalTrainer, LocalTrainingResult } from '../training/local-trainer.ts';

export const ATTACKS = ['huge-update', 'inflated-count', 'scaled-random'] as const;
export type Attack = (typeof ATTACKS)[number];

const FLOAT32_MAX = 3.4028234663852886e38;
const INFLATED_COUNT = 1_000_000_000;
export const SCALED_RANDOM_FACTOR = 100;

/** `inner` trains honestly where the attack needs an honest update (its norm) or a true count. */
export function attackingTrainer(inner: LocalTrainer, attack: Attack, examples: number): LocalTrainer {
  return {
    init: () => inner.init(),
    dispose: () => inner.dispose(),
    train: (global, plan) => attackRound(inner, attack, examples, global, plan),
  };
}

async function* attackRound(inner: LocalTrainer, attack: Attack, examples: number, global: GlobalModel, plan: RoundPlanMsg): AsyncGenerator<TrainProgress, LocalTrainingResult> {
  const rng = createRng(plan.seed);
  const size = global.values.length;
  // Reported metrics stay plausible: the coordinator refuses out-of-range ones, which would only make the attack louder.
  const report = { loss: 1, accuracy: 0.5, steps: 1 };
  switch (attack) {
    case 'huge-update':
      return { ...report, numExamples: examples, delta: Float32Array.from({ length: size }, () => (rng.next() < 0.5 ? -FLOAT32_MAX : FLOAT32_MAX)) };
    case 'inflated-count':
      return { ...report, numExamples: INFLATED_COUNT, delta: Float32Array.from(global.values, (w) => -w) };
    case 'scaled-random': {
      const honest = yield* inner.train(global, plan);
      const direction = Float32Array.from({ length: size }, () => rng.normal());
      const scale = (SCALED_RANDOM_FACTOR * norm(honest.delta)) / Math.max(norm(direction), Number.MIN_VALUE);
      return { ...honest, delta: direction.map((x) => x * scale) };
    }
  }
}

function norm(v: Float32Array): number {
  let ssq = 0;
  for (const x of v) ssq += x * x;
  return Math.sqrt(ssq);
}
