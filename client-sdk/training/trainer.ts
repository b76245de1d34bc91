/**
 * Local training as (nested) async generators, DISCO-style: an epoch generator
 * yields per-batch progress and returns the epoch summary; `trainLocal`
 * delegates to it for every epoch and adds an 'epoch' event after each.
 * A CLI can print the stream, a test can assert on it, and anyone can just
 * drain it to get the TrainResult.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, type Dataset, featureSize, permutation, type Rng } from '../data/dataset.ts';
import { disposeProx, proxAround, proxTerm, type Prox } from './fedprox.ts';
import type { WorkerThroughput } from './worker-report.ts';

export type OptimizerName = 'sgd' | 'adam';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Default 'sgd'. A fresh optimizer is created for every trainLocal call. */
  optimizer?: OptimizerName;
  /** Seed for the per-epoch shuffling of the examples. */
  seed: number;
  /**
   * FedProx's μ (fedprox.ts): adds (μ/2)·‖w − w₀‖² to every step's loss, w₀ being the weights the
   * model has when trainLocal is called. Default 0 (FedAvg). Reported losses stay the data loss.
   */
  proxMu?: number;
}

export interface TrainProgress {
  kind: 'batch' | 'epoch';
  /** 0-based epoch index. */
  epoch: number;
  /** 0-based batch index within the epoch (only for 'batch' events). */
  batch?: number;
  /** 'batch': the batch's mean loss; 'epoch': mean over the epoch's examples. */
  loss: number;
  accuracy?: number;
  /** 'epoch' events of a LocalTrainer: the site's examples a second over the epoch (wall clock). */
  examplesPerS?: number;
  /** 'epoch' events of a LocalTrainer: each worker's share and speed. */
  workers?: WorkerThroughput[];
}

export interface TrainResult {
  /** Local dataset size, the FedAvg weight. */
  numExamples: number;
  /** Mean training loss of the last epoch. */
  loss: number;
  /** Training accuracy of the last epoch. */
  accuracy: number;
  /** Number of optimizer steps taken. */
  steps: number;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
}

interface EpochSummary {
  loss: number;
  accuracy: number;
  steps: number;
}

const EPS = 1e-7;

function validateTrainOptions(opts: TrainOptions): void {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new RangeError(`trainLocal: epochs must be an integer >= 1, got ${opts.epochs}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`trainLocal: batchSize must be an integer >= 1, got ${opts.batchSize}`);
  if (!(opts.learningRate > 0) || !Number.isFinite(opts.learningRate)) {
    throw new RangeError(`trainLocal: learningRate must be a finite number > 0, got ${opts.learningRate}`);
  }
  const o = opts.optimizer ?? 'sgd';
  if (o !== 'sgd' && o !== 'adam') throw new RangeError(`trainLocal: optimizer must be 'sgd' or 'adam', got '${String(o)}'`);
  if (typeof opts.seed !== 'number' || !Number.isFinite(opts.seed)) throw new TypeError(`trainLocal: seed must be a finite number`);
}

/**
 * Checks the data fits the model and returns the shape each example is fed in: the dataset's own,
 * or the model's when that holds the same number of values (a model taking MNIST as [784] trains
 * on the [28, 28, 1] features as they are: features are stored flat, so this is only a view).
 */
export function checkDataMatchesModel(model: tf.LayersModel, data: Dataset, fn: string): number[] {
  if (data.count < 1) throw new RangeError(`${fn}: dataset is empty`);
  const inShape = model.inputs[0]!.shape.slice(1);
  const sameShape = inShape.length === data.featureShape.length && inShape.every((d, i) => d === null || d === data.featureShape[i]);
  const reshaped = !sameShape && inShape.every((d) => d !== null) && (inShape as number[]).reduce((a, b) => a * b, 1) === featureSize(data);
  if (!sameShape && !reshaped) {
    throw new Error(`${fn}: dataset featureShape [${data.featureShape.join(', ')}] does not match model input [${inShape.join(', ')}]`);
  }
  const outUnits = model.outputs[0]!.shape[model.outputs[0]!.shape.length - 1];
  if (outUnits !== data.numClasses) throw new Error(`${fn}: dataset has ${data.numClasses} classes, model outputs ${outUnits}`);
  if (data.features.length !== data.count * featureSize(data) || data.labels.length !== data.count) {
    throw new Error(`${fn}: dataset arrays do not match count=${data.count}`);
  }
  return sameShape ? [...data.featureShape] : (inShape as number[]);
}

export function makeBatch(data: Dataset, order: Int32Array, start: number, end: number, exampleShape: readonly number[]): { x: tf.Tensor; y: tf.Tensor1D } {
  const size = featureSize(data);
  const n = end - start;
  // A fresh buffer per batch: backends may keep a reference to the array.
  const xb = new Float32Array(n * size);
  const yb = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = order[start + j]!;
    xb.set(data.features.subarray(i * size, (i + 1) * size), j * size);
    yb[j] = data.labels[i]!;
  }
  return { x: tf.tensor(xb, [n, ...exampleShape], 'float32'), y: tf.tensor1d(yb, 'int32') };
}

/** Sum over the batch of -log p(label); `probs` is [n, numClasses] softmax output. */
export function sumCrossEntropy(probs: tf.Tensor, y: tf.Tensor1D, numClasses: number): tf.Scalar {
  const oneHot = tf.oneHot(y, numClasses);
  const logp = tf.log(tf.clipByValue(probs, EPS, 1 - EPS));
  return tf.neg(tf.sum(tf.mul(oneHot, logp))) as tf.Scalar;
}

export function countCorrect(probs: tf.Tensor, y: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), y), 'float32'));
}

export function makeOptimizer(name: OptimizerName, lr: number): tf.Optimizer {
  return name === 'adam' ? tf.train.adam(lr) : tf.train.sgd(lr);
}

/** One epoch over `data` in a fresh random order; yields one 'batch' event per step. */
async function* trainEpoch(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  data: Dataset,
  epoch: number,
  batchSize: number,
  rng: Rng,
  exampleShape: readonly number[],
  prox: Prox | null = null,
): AsyncGenerator<TrainProgress, EpochSummary> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const order = permutation(data.count, rng);
  let lossSum = 0;
  let correctSum = 0;
  let steps = 0;
  for (let start = 0, b = 0; start < data.count; start += batchSize, b++) {
    const end = Math.min(start + batchSize, data.count);
    const n = end - start;
    const { cost, correct } = tf.tidy(() => {
      const { x, y } = makeBatch(data, order, start, end, exampleShape);
      let kept: tf.Scalar | undefined;
      let dataLoss: tf.Scalar | undefined;
      const c = optimizer.minimize(
        () => {
          const probs = model.apply(x, { training: true }) as tf.Tensor;
          kept = tf.keep(countCorrect(probs, y));
          const loss = tf.div(sumCrossEntropy(probs, y, data.numClasses), n) as tf.Scalar;
          if (!prox) return loss;
          dataLoss = tf.keep(loss);
          return tf.add(loss, proxTerm(vars, prox));
        },
        true,
        vars,
      );
      if (dataLoss) c!.dispose();
      return { cost: dataLoss ?? c!, correct: kept! };
    });
    const [lossArr, corrArr] = await Promise.all([cost.data(), correct.data()]);
    cost.dispose();
    correct.dispose();
    const loss = lossArr[0]!;
    if (!Number.isFinite(loss)) throw new Error(`trainLocal: loss became ${loss} at epoch ${epoch} batch ${b}; lower the learning rate`);
    lossSum += loss * n;
    correctSum += corrArr[0]!;
    steps++;
    yield { kind: 'batch', epoch, batch: b, loss, accuracy: corrArr[0]! / n };
  }
  return { loss: lossSum / data.count, accuracy: correctSum / data.count, steps };
}

/**
 * Trains `model` in place on `data` (FedAvg client semantics: a fresh
 * optimizer per call, so no optimizer state carries across rounds).
 * Yields a 'batch' event after every step and an 'epoch' event after every
 * epoch; returns the summary of the last epoch. Breaking out of the loop
 * early is allowed and releases the optimizer.
 */
export async function* trainLocal(
  model: tf.LayersModel,
  data: Dataset,
  opts: TrainOptions,
): AsyncGenerator<TrainProgress, TrainResult> {
  validateTrainOptions(opts);
  const exampleShape = checkDataMatchesModel(model, data, 'trainLocal');
  const rng = createRng(opts.seed);
  const prox = proxAround(model.trainableWeights.map((w) => w.read()), opts.proxMu ?? 0);
  const optimizer = makeOptimizer(opts.optimizer ?? 'sgd', opts.learningRate);
  try {
    let steps = 0;
    let last: EpochSummary = { loss: NaN, accuracy: NaN, steps: 0 };
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      last = yield* trainEpoch(model, optimizer, data, epoch, opts.batchSize, rng, exampleShape, prox);
      steps += last.steps;
      yield { kind: 'epoch', epoch, loss: last.loss, accuracy: last.accuracy };
    }
    return { numExamples: data.count, loss: last.loss, accuracy: last.accuracy, steps };
  } finally {
    disposeProx(prox);
    optimizer.dispose();
  }
}

/** Drains a trainLocal generator, optionally reporting each event, and returns its result. */
export async function runToCompletion(
  gen: AsyncGenerator<TrainProgress, TrainResult>,
  onProgress?: (p: TrainProgress) => void,
): Promise<TrainResult> {
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
    onProgress?.(r.value);
  }
}

/** Mean cross-entropy loss and accuracy of `model` on `data` (no training). */
export async function evaluate(model: tf.LayersModel, data: Dataset, batchSize = 512): Promise<EvalResult> {
  const exampleShape = checkDataMatchesModel(model, data, 'evaluate');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`evaluate: batchSize must be an integer >= 1, got ${batchSize}`);
  const order = new Int32Array(data.count);
  for (let i = 0; i < data.count; i++) order[i] = i;
  let lossSum = 0;
  let correctSum = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const end = Math.min(start + batchSize, data.count);
    const [l, c] = tf.tidy(() => {
      const { x, y } = makeBatch(data, order, start, end, exampleShape);
      const probs = model.apply(x, { training: false }) as tf.Tensor;
      return [sumCrossEntropy(probs, y, data.numClasses), countCorrect(probs, y)];
    });
    const [la, ca] = await Promise.all([l.data(), c.data()]);
    l.dispose();
    c.dispose();
    lossSum += la[0]!;
    correctSum += ca[0]!;
  }
  return { loss: lossSum / data.count, accuracy: correctSum / data.count };
}
