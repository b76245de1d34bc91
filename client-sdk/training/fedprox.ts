/**
 * FedProx's proximal term (Li et al. 2020, "Federated Optimization in Heterogeneous Networks",
 * eq. 2): each site minimises h(w) = F(w) + (μ/2)·‖w − w_global‖², which keeps its local model near
 * the round's global model when sites' data (and amounts of local work) differ. Its gradient is
 * μ·(w − w_global), added to the data loss's. The centre is the global model the round started
 * from; it stays fixed for the whole round.
 */
import * as tf from '@tensorflow/tfjs';

export interface Prox {
  mu: number;
  /** w_global, one tensor per trainable variable, in the variables' order (kept, not tidied). */
  center: tf.Tensor[];
}

/** A round's proximal term around the variables' current values (the global model just loaded); null for μ = 0. */
export function proxAround(vars: readonly tf.Tensor[], mu: number): Prox | null {
  if (!(mu >= 0) || !Number.isFinite(mu)) throw new RangeError(`FedProx: mu must be a finite number >= 0, got ${mu}`);
  return mu > 0 ? { mu, center: vars.map((v) => tf.keep(v.clone())) } : null;
}

export function disposeProx(prox: Prox | null): void {
  if (prox) tf.dispose(prox.center);
}

/** (μ/2)·Σᵢ‖varsᵢ − centerᵢ‖², differentiable in the variables. */
export function proxTerm(vars: readonly tf.Tensor[], prox: Prox): tf.Scalar {
  return tf.tidy(() => {
    const squares = vars.map((v, i) => tf.sum(tf.square(tf.sub(v, prox.center[i]!))));
    return tf.mul(prox.mu / 2, tf.addN(squares)) as tf.Scalar;
  });
}

/** g + μ·(w − w_global) for one variable: the proximal gradient added to a data-loss gradient computed elsewhere (worker pool). */
export function withProxGradient(grad: tf.Tensor, variable: tf.Tensor, center: tf.Tensor, mu: number): tf.Tensor {
  return tf.tidy(() => tf.add(grad, tf.mul(mu, tf.sub(variable, center))));
}
