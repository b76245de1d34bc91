import { ConclaveError } from '../../protocols/index.ts';
import { SECOND_MOMENT, adaptiveStep, momentumStep, stepped } from './kernels.ts';

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
  checkLearningRate(learningRate);
  return {
    name: 'sgd',
    apply(base, delta, state) {
      checkStep('sgd', base, delta, state);
      return { next: stepped(base, delta, learningRate), state: null };
    },
  };
}

export interface FedAvgMOptions {
  learningRate: number;
  /** β in [0, 1). */
  momentum: number;
}

/**
 * Server momentum (Hsu et al. 2019, "Measuring the effects of non-identical data distribution"):
 * v ← β·v + Δ, next = base + η·v. The velocity starts at zero, so round 1 is SGD.
 */
export function fedAvgM(options: FedAvgMOptions): ServerOptimizer {
  const { learningRate, momentum } = options;
  checkLearningRate(learningRate);
  checkUnit('momentum', momentum);
  return {
    name: 'fedavgm',
    apply(base, delta, state) {
      checkStep('fedavgm', base, delta, state);
      const { velocity, next } = momentumStep(base, delta, stateVector(state, 'velocity'), momentum, learningRate);
      return { next, state: { optimizer: 'fedavgm', scalars: { step: (state?.scalars['step'] ?? 0) + 1 }, vectors: { velocity } } };
    },
  };
}

export type AdaptiveKind = 'fedadam' | 'fedyogi' | 'fedadagrad';

export interface AdaptiveOptions {
  learningRate: number;
  /** First-moment decay β₁ in [0, 1). */
  beta1: number;
  /** Second-moment decay β₂ in [0, 1); FedAdagrad does not use it. */
  beta2: number;
  /** Adaptivity τ > 0: the floor of the denominator, and √ of the second moment's starting value. */
  tau: number;
}

/**
 * Reddi et al. 2021, Algorithm 2, as written there (no bias correction; v starts at τ², which the
 * paper requires, v₋₁ ≥ τ²):
 *   m ← β₁·m + (1 − β₁)·Δ
 *   FedAdagrad: v ← v + Δ²
 *   FedYogi:    v ← v − (1 − β₂)·Δ²·sign(v − Δ²)
 *   FedAdam:    v ← β₂·v + (1 − β₂)·Δ²
 *   next = base + η·m / (√v + τ)
 * Per-coordinate arithmetic is float64; the state is stored as float32, and both an uninterrupted
 * run and a restarted one read it back from the registry, so they agree bit for bit.
 */
export function adaptive(kind: AdaptiveKind, options: AdaptiveOptions): ServerOptimizer {
  const { learningRate, beta1, beta2, tau } = options;
  checkLearningRate(learningRate);
  checkUnit('beta1', beta1);
  checkUnit('beta2', beta2);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new ConclaveError('INVALID_ARGUMENT', `tau must be positive and finite, got ${tau}`);
  const rule = SECOND_MOMENT[kind];
  return {
    name: kind,
    apply(base, delta, state) {
      checkStep(kind, base, delta, state);
      const { m, v, next } = adaptiveStep(base, delta, stateVector(state, 'm'), stateVector(state, 'v'), rule, { lr: learningRate, beta1, beta2, tau });
      return { next, state: { optimizer: kind, scalars: { step: (state?.scalars['step'] ?? 0) + 1 }, vectors: { m, v } } };
    },
  };
}

function checkLearningRate(learningRate: number): void {
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new ConclaveError('INVALID_ARGUMENT', `server learning rate must be positive and finite, got ${learningRate}`);
}

function checkUnit(name: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new ConclaveError('INVALID_ARGUMENT', `${name} must be in [0, 1), got ${value}`);
}

/** A state vector the optimizer wrote; a state that lacks it was not written by this optimizer's code. */
function stateVector(state: OptimizerState | null, key: string): Float32Array | null {
  if (state === null) return null;
  const v = state.vectors[key];
  if (!v) throw new ConclaveError('FEDERATION_STATE', `the persisted "${state.optimizer}" state has no "${key}" vector`);
  return v;
}

/** The checks every optimizer makes before a step. */
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
