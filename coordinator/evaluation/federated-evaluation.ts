/**
 * Federated evaluation (Flower's configure_evaluate / aggregate_evaluate). The coordinator holds no
 * test data, so the sites score a model on their own held-out splits. It rides on the round
 * pipeline instead of adding one: a round whose base model is due for evaluation asks its sites,
 * in the plan, to score that model before they train, and each site's update carries its held-out
 * count, loss and accuracy. At commit the example-weighted mean is stored with the base version.
 * (The last version of a federation is never a base, so it is not evaluated this way.)
 *
 * Under DP nothing is collected: the metrics are released data that no DP event accounts for, and
 * the config schema refuses evaluation with DP.
 */
import { ConclaveError, type UpdateBodyMsg } from '../../protocols/index.ts';
import type { FederationConfig } from '../federation-config.ts';
import { DEFAULT_UPDATE_LIMITS, type UpdateLimits } from '../limits.ts';

/** No site holds out more examples than this (the same ceiling as a declared training count). */
export const MAX_EVAL_EXAMPLES = 1_000_000_000;

/** Whether a round on `baseVersion` asks its sites to evaluate it: every k-th version (0 included, a baseline), never under DP. */
export function evaluationDue(config: Pick<FederationConfig, 'evaluation' | 'privacy'>, baseVersion: number, dp: boolean): boolean {
  const k = config.evaluation?.everyRounds ?? 0;
  return k > 0 && !dp && config.privacy === null && baseVersion % k === 0;
}

/** A site's evaluation report as it reaches the coordinator (fields of UpdateBody). */
export type EvaluationReport = Pick<UpdateBodyMsg, 'evalExamples' | 'evalLoss' | 'evalAccuracy'>;

/**
 * Bounds a site's evaluation report before its update is buffered: none at all unless the round
 * asked for one; otherwise an integer count (0: the site has no held-out data), a finite loss
 * within the training-loss bound and an accuracy in [0, 1].
 */
export function checkEvaluationReport(report: EvaluationReport, asked: boolean, limits: UpdateLimits = DEFAULT_UPDATE_LIMITS): void {
  const examples = report.evalExamples ?? 0;
  const loss = report.evalLoss ?? 0;
  const accuracy = report.evalAccuracy ?? 0;
  if (!asked) {
    if (examples !== 0 || loss !== 0 || accuracy !== 0) throw new ConclaveError('INVALID_ARGUMENT', 'this round asked for no evaluation; evalExamples, evalLoss and evalAccuracy must be 0');
    return;
  }
  if (!Number.isSafeInteger(examples) || examples < 0 || examples > MAX_EVAL_EXAMPLES) {
    throw new ConclaveError('INVALID_ARGUMENT', `evalExamples must be an integer in [0, ${MAX_EVAL_EXAMPLES}]`);
  }
  if (!Number.isFinite(loss) || !Number.isFinite(accuracy)) throw new ConclaveError('NON_FINITE_VALUE', 'evaluation metrics must be finite numbers');
  if (examples === 0 && (loss !== 0 || accuracy !== 0)) throw new ConclaveError('INVALID_ARGUMENT', 'an evaluation over 0 examples has no loss or accuracy');
  if (!(accuracy >= 0 && accuracy <= 1)) throw new ConclaveError('INVALID_ARGUMENT', 'evalAccuracy must be in [0, 1]');
  if (!(loss >= 0 && loss <= limits.maxTrainLoss)) throw new ConclaveError('INVALID_ARGUMENT', `evalLoss must be in [0, ${limits.maxTrainLoss}]`);
}

export interface FederatedEvaluation {
  modelVersion: number;
  examples: number;
  sites: number;
  loss: number;
  accuracy: number;
}

/** The example-weighted mean of one round's evaluation reports (already checked). */
export class EvaluationAggregate {
  private readonly modelVersion: number;
  private readonly maxWeight: number;
  private examples = 0;
  private sites = 0;
  private lossSum = 0;
  private accuracySum = 0;

  constructor(modelVersion: number, limits: UpdateLimits = DEFAULT_UPDATE_LIMITS) {
    this.modelVersion = modelVersion;
    // As with training weights: one site's declared count buys at most this much of the mean.
    this.maxWeight = limits.maxExamplesPerUpdate;
  }

  add(report: EvaluationReport): void {
    const n = Math.min(report.evalExamples ?? 0, this.maxWeight);
    if (n === 0) return;
    this.examples += n;
    this.sites++;
    this.lossSum += n * (report.evalLoss ?? 0);
    this.accuracySum += n * (report.evalAccuracy ?? 0);
  }

  /** Null when no site reported any held-out example. */
  result(): FederatedEvaluation | null {
    if (this.examples === 0) return null;
    return { modelVersion: this.modelVersion, examples: this.examples, sites: this.sites, loss: this.lossSum / this.examples, accuracy: this.accuracySum / this.examples };
  }
}

/** The metrics keys a model version carries once evaluated (model list / show print them). */
export function evaluationMetrics(e: FederatedEvaluation): Record<string, number> {
  return { federatedAccuracy: e.accuracy, federatedLoss: e.loss, federatedExamples: e.examples, federatedSites: e.sites };
}

/** The evaluation stored with a version's metrics, if any. */
export function evaluationFromMetrics(version: number, metrics: Record<string, number>): FederatedEvaluation | null {
  const { federatedAccuracy: accuracy, federatedLoss: loss, federatedExamples: examples, federatedSites: sites } = metrics;
  if (accuracy === undefined || loss === undefined || examples === undefined) return null;
  return { modelVersion: version, examples, sites: sites ?? 0, loss, accuracy };
}
