import type { Dataset } from '../../client-sdk/data/dataset.ts';

/** `count` pseudo-random 28×28×1 "digits" with cycling labels: deterministic per seed, no MNIST load. */
export function syntheticDigits(count: number, seed: number): Dataset {
  const features = new Float32Array(count * 784);
  let s = seed >>> 0;
  for (let i = 0; i < features.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    features[i] = s / 2 ** 32;
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = (i * 7 + seed) % 10;
  return { features, labels, count, featureShape: [28, 28, 1], numClasses: 10 };
}
