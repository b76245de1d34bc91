/**
 * In-memory labelled dataset used by the client SDK, plus a small seeded PRNG
 * for shuffling / partitioning. The PRNG is NOT cryptographic: it exists so
 * that data splits and training order are reproducible from a seed.
 */

export interface Dataset {
  /** Row-major features, `count * prod(featureShape)` values. */
  features: Float32Array;
  /** Integer class labels in `[0, numClasses)`, one per example. */
  labels: Int32Array;
  count: number;
  /** Shape of one example, e.g. `[28, 28, 1]`. */
  featureShape: number[];
  numClasses: number;
}

/** Number of scalar values in one example. */
export function featureSize(ds: Pick<Dataset, 'featureShape'>): number {
  return ds.featureShape.reduce((a, b) => a * b, 1);
}

/** Checks internal consistency of a dataset; throws a descriptive error otherwise. */
export function validateDataset(ds: Dataset): void {
  if (!Number.isInteger(ds.count) || ds.count < 0) {
    throw new Error(`Dataset.count must be a non-negative integer, got ${ds.count}`);
  }
  if (!Number.isInteger(ds.numClasses) || ds.numClasses < 1) {
    throw new Error(`Dataset.numClasses must be a positive integer, got ${ds.numClasses}`);
  }
  const size = featureSize(ds);
  if (ds.features.length !== ds.count * size) {
    throw new Error(
      `Dataset.features has ${ds.features.length} values, expected count*featureSize = ${ds.count}*${size}`,
    );
  }
  if (ds.labels.length !== ds.count) {
    throw new Error(`Dataset.labels has ${ds.labels.length} entries, expected ${ds.count}`);
  }
  for (let i = 0; i < ds.count; i++) {
    const y = ds.labels[i]!;
    if (y < 0 || y >= ds.numClasses) {
      throw new Error(`Dataset label ${y} at index ${i} is outside [0, ${ds.numClasses})`);
    }
  }
}

/** Copies the examples at `indices` (in that order) into a new dataset. */
export function subset(ds: Dataset, indices: Int32Array | readonly number[]): Dataset {
  const size = featureSize(ds);
  const n = indices.length;
  const features = new Float32Array(n * size);
  const labels = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new RangeError(`subset: index ${i} out of range [0, ${ds.count})`);
    }
    features.set(ds.features.subarray(i * size, (i + 1) * size), j * size);
    labels[j] = ds.labels[i]!;
  }
  return { features, labels, count: n, featureShape: [...ds.featureShape], numClasses: ds.numClasses };
}

/** Number of examples of each class. */
export function classCounts(ds: Pick<Dataset, 'labels' | 'numClasses'>): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const y of ds.labels) counts[y] = (counts[y] ?? 0) + 1;
  return counts;
}

export interface Rng {
  /** Uniform double in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  nextInt(n: number): number;
  /** Standard normal sample. */
  normal(): number;
  /** Gamma(shape, 1) sample, shape > 0 (Marsaglia–Tsang). */
  gamma(shape: number): number;
  /** Dirichlet(alpha, ..., alpha) sample of dimension k. */
  dirichlet(alpha: number, k: number): number[];
  /** Independent generator derived from this one's state (for sub-streams). */
  fork(): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Seeded PRNG: xoshiro128** seeded through splitmix32. Not for cryptographic use.
 * `seed` may be any finite number; non-integers are hashed through their bits.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  // Mix both 32-bit halves of the seed so large integer seeds are distinct.
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const sm = splitmix32(lo ^ Math.imul(hi, 0x27d4eb2d));
  let a = sm(), b = sm(), c = sm(), d = sm();
  if ((a | b | c | d) === 0) a = 1;

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };

  let spareNormal: number | null = null;

  const rng: Rng = {
    next(): number {
      // 53-bit double from two 32-bit outputs.
      const hi21 = nextU32() >>> 11;
      const lo32 = nextU32();
      return (hi21 * 4294967296 + lo32) / 9007199254740992;
    },
    nextInt(n: number): number {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`nextInt: n must be a positive integer, got ${n}`);
      return Math.floor(rng.next() * n);
    },
    normal(): number {
      if (spareNormal !== null) {
        const v = spareNormal;
        spareNormal = null;
        return v;
      }
      let u = 0;
      while (u === 0) u = rng.next();
      const v = rng.next();
      const r = Math.sqrt(-2 * Math.log(u));
      spareNormal = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    gamma(shape: number): number {
      if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`gamma: shape must be > 0, got ${shape}`);
      if (shape < 1) {
        // Boost: Gamma(a) = Gamma(a+1) * U^(1/a).
        let u = 0;
        while (u === 0) u = rng.next();
        return rng.gamma(shape + 1) * Math.pow(u, 1 / shape);
      }
      const d = shape - 1 / 3;
      const c = 1 / Math.sqrt(9 * d);
      for (;;) {
        let x: number;
        let v: number;
        do {
          x = rng.normal();
          v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const u = rng.next();
        if (u < 1 - 0.0331 * x * x * x * x) return d * v;
        if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
      }
    },
    dirichlet(alpha: number, k: number): number[] {
      if (!(alpha > 0)) throw new RangeError(`dirichlet: alpha must be > 0, got ${alpha}`);
      if (!Number.isInteger(k) || k < 1) throw new RangeError(`dirichlet: k must be a positive integer, got ${k}`);
      for (;;) {
        const g = Array.from({ length: k }, () => rng.gamma(alpha));
        const sum = g.reduce((s, x) => s + x, 0);
        // With tiny alpha every gamma draw may underflow to 0; redraw.
        if (sum > 0 && Number.isFinite(sum)) return g.map((x) => x / sum);
      }
    },
    fork(): Rng {
      return createRng(nextU32() * 4294967296 + nextU32());
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** In-place Fisher–Yates shuffle driven by `rng`. Returns the same array. */
export function shuffle<A extends MutableArrayLike>(arr: A, rng: Rng): A {
  const a: MutableArrayLike = arr;
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = a[i];
    a[i] = a[j];
    a[j] = tmp;
  }
  return arr;
}

/** Anything indexable and writable: plain arrays and typed arrays. */
export interface MutableArrayLike {
  readonly length: number;
  [i: number]: unknown;
}

/** A random permutation of `0..n-1`. */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffle(p, rng);
}
