import { ConclaveError } from '../../protocols/index.ts';

/**
 * Server optimizers (Reddi et al., "Adaptive Federated Optimization", ICLR 2021): the round's
 * aggregate delta is a pseudo-gradient, and the server takes one optimizer step with it. FedAvg is
 * SGD at server learning rate 1 (next = base + delta); FedAvgM, FedAdam, FedYogi keep state across
 * rounds (momentum, first and second moments, a step count).
 *
 * That state belongs to the model version it produced: the registry persists it with the version,
 * in the same commit (a blob written and fsynced first, its digest recorded in the transaction), so
 * a restart resumes from exactly the state that made the latest model.
 */

/**
 * A server optimizer's state between rounds: model-sized vectors (FedAdam's m and v, FedAvgM's
 * momentum) and scalars (the step count t for bias correction). `optimizer` names who wrote it, so a
 * state is never applied by a different optimizer than the one that produced it.
 */
export interface OptimizerState {
  readonly optimizer: string;
  readonly scalars: Readonly<Record<string, number>>;
  readonly vectors: Readonly<Record<string, Float32Array>>;
}

export interface ServerOptimizer {
  readonly name: string;
  /**
   * One server step: the next model from the round's base and aggregate delta, and the state to
   * persist with it (`state` is the one persisted with the base version; null before the first
   * step). Pure: neither input array nor the state is modified.
   */
  apply(base: Float32Array, delta: Float32Array, state: OptimizerState | null): { next: Float32Array; state: OptimizerState | null };
}

export interface SgdOptions {
  learningRate: number;
}

/** next = base + η·delta. Stateless; η = 1 is FedAvg. */
export function sgd(options: SgdOptions): ServerOptimizer {
  const { learningRate } = options;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new ConclaveError('INVALID_ARGUMENT', `server learning rate must be positive and finite, got ${learningRate}`);
  return {
    name: 'sgd',
    apply(base, delta, state) {
      checkStep('sgd', base, delta, state);
      const next = new Float32Array(base.length);
      for (let i = 0; i < next.length; i++) next[i] = base[i]! + learningRate * delta[i]!;
      return { next, state: null };
    },
  };
}

/** The checks every optimizer makes before a step; exported for the stateful ones to come. */
export function checkStep(name: string, base: Float32Array, delta: Float32Array, state: OptimizerState | null): void {
  if (delta.length !== base.length) throw new ConclaveError('LAYOUT_MISMATCH', `aggregate delta has ${delta.length} values, model has ${base.length}`);
  if (state === null) return;
  if (state.optimizer !== name) {
    throw new ConclaveError('FEDERATION_STATE', `the persisted optimizer state was written by "${state.optimizer}", not "${name}"; the federation's server optimizer cannot change mid-training`);
  }
  for (const [key, v] of Object.entries(state.vectors)) {
    if (v.length !== base.length) throw new ConclaveError('LAYOUT_MISMATCH', `optimizer state vector "${key}" has ${v.length} values, model has ${base.length}`);
  }
}
