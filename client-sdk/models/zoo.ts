/**
 * Model zoo: small, deterministic (seeded) Keras-style models for MNIST-like data.
 * Layer names are fixed so that weight layouts (see weights.ts) match across
 * processes and across models built in the same process.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../data/dataset.ts';

export type ModelArchitecture = 'mlp' | 'cnn';

export const MODEL_ARCHITECTURES: readonly ModelArchitecture[] = ['mlp', 'cnn'];

export interface BuildModelOptions {
  /** Seed for the weight initializers; same seed => identical initial weights. */
  seed: number;
  inputShape?: number[];
  numClasses?: number;
  /** Compile with an SGD optimizer and sparse categorical cross-entropy (default true). */
  compile?: boolean;
}

export function isModelArchitecture(x: unknown): x is ModelArchitecture {
  return x === 'mlp' || x === 'cnn';
}

/**
 * Builds a model. Architectures:
 * - `mlp`: flatten -> dense 128 relu -> dense numClasses softmax (101,770 params for MNIST).
 * - `cnn`: LeNet-style conv 5x5x6 relu (valid) -> maxpool 2 -> conv 5x5x16 relu (valid)
 *          -> maxpool 2 -> flatten -> dense numClasses softmax (5,142 params for MNIST).
 *          Chosen for CPU/wasm training speed: ~100 ms per 32-example step on tfjs cpu
 *          with a fast Conv2DBackpropFilter kernel (stock tfjs-backend-cpu's is ~20x slower).
 * Output is class probabilities (softmax); labels are integer class ids.
 */
export function buildModel(arch: ModelArchitecture, opts: BuildModelOptions): tf.LayersModel {
  if (!isModelArchitecture(arch)) throw new Error(`buildModel: unknown architecture '${String(arch)}' (expected one of ${MODEL_ARCHITECTURES.join(', ')})`);
  if (typeof opts?.seed !== 'number' || !Number.isFinite(opts.seed)) {
    throw new TypeError(`buildModel: opts.seed must be a finite number`);
  }
  const inputShape = opts.inputShape ?? [28, 28, 1];
  const numClasses = opts.numClasses ?? 10;
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new RangeError(`buildModel: numClasses must be an integer >= 2, got ${numClasses}`);
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`buildModel: invalid inputShape [${inputShape.join(', ')}]`);
  }
  const rng = createRng(opts.seed);
  const kernelInit = () => tf.initializers.glorotUniform({ seed: rng.nextInt(2 ** 31) });
  const biasInitializer = 'zeros' as const;

  let model: tf.Sequential;
  if (arch === 'mlp') {
    // Flatten needs rank >= 2 per example; 1-D inputs go straight into the dense layer.
    const flat = inputShape.length > 1;
    model = tf.sequential({
      name: 'conclave_mlp',
      layers: [
        ...(flat ? [tf.layers.flatten({ inputShape, name: 'flatten' })] : []),
        tf.layers.dense({
          ...(flat ? {} : { inputShape }),
          units: 128, activation: 'relu', kernelInitializer: kernelInit(), biasInitializer, name: 'dense1',
        }),
        tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: kernelInit(), biasInitializer, name: 'output' }),
      ],
    });
  } else {
    if (inputShape.length !== 3) {
      throw new RangeError(`buildModel: cnn needs a [height, width, channels] inputShape, got [${inputShape.join(', ')}]`);
    }
    model = tf.sequential({
      name: 'conclave_cnn',
      layers: [
        tf.layers.conv2d({ inputShape, filters: 6, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: kernelInit(), biasInitializer, name: 'conv1' }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }),
        tf.layers.conv2d({ filters: 16, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: kernelInit(), biasInitializer, name: 'conv2' }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool2' }),
        tf.layers.flatten({ name: 'flatten' }),
        tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: kernelInit(), biasInitializer, name: 'output' }),
      ],
    });
  }
  if (opts.compile ?? true) {
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  }
  return model;
}
