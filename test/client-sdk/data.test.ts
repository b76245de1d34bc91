import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classCounts, createRng, type Dataset, permutation, shuffle, subset, validateDataset } from '../../client-sdk/data/dataset.ts';
import { loadMnist, trainTestSplit, trainTestSplitIndices } from '../../client-sdk/data/mnist.ts';
import {
  partitionDirichlet,
  partitionDirichletIndices,
  partitionIid,
  partitionIidIndices,
} from '../../client-sdk/data/partition.ts';

function expectDisjointCover(parts: Int32Array[], count: number): void {
  const seen = new Uint8Array(count);
  let total = 0;
  for (const p of parts) {
    for (const i of p) {
      expect(i).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(count);
      if (seen[i]) throw new Error(`index ${i} assigned twice`);
      seen[i] = 1;
      total++;
    }
  }
  expect(total).toBe(count);
}

function tinyDataset(labels: number[], numClasses: number): Dataset {
  const count = labels.length;
  const features = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    features[2 * i] = i;
    features[2 * i + 1] = -i;
  }
  return { features, labels: Int32Array.from(labels), count, featureShape: [2], numClasses };
}

/** Mean over sites of the total-variation distance between the site's label distribution and the global one. */
function labelSkew(parts: Int32Array[], labels: Int32Array, numClasses: number): number {
  const global = classCounts({ labels, numClasses }).map((c) => c / labels.length);
  let sum = 0;
  for (const p of parts) {
    const counts = new Array<number>(numClasses).fill(0);
    for (const i of p) counts[labels[i]!]!++;
    let tv = 0;
    for (let c = 0; c < numClasses; c++) tv += Math.abs(counts[c]! / p.length - global[c]!);
    sum += tv / 2;
  }
  return sum / parts.length;
}

describe('createRng', () => {
  it('is deterministic under a seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xa = Array.from({ length: 20 }, () => a.next());
    const xb = Array.from({ length: 20 }, () => b.next());
    const xc = Array.from({ length: 20 }, () => c.next());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    expect(createRng(2 ** 40).next()).not.toBe(createRng(0).next());
  });

  it('produces values in range with plausible moments', () => {
    const r = createRng(7);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
      s += u;
    }
    expect(s / 20000).toBeCloseTo(0.5, 1);
    for (let i = 0; i < 1000; i++) {
      const k = r.nextInt(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
    for (const shape of [0.3, 1, 4.5]) {
      let g = 0;
      for (let i = 0; i < 20000; i++) g += r.gamma(shape);
      expect(Math.abs(g / 20000 - shape) / shape).toBeLessThan(0.05);
    }
    let n = 0;
    let n2 = 0;
    for (let i = 0; i < 20000; i++) {
      const z = r.normal();
      n += z;
      n2 += z * z;
    }
    expect(Math.abs(n / 20000)).toBeLessThan(0.05);
    expect(Math.abs(n2 / 20000 - 1)).toBeLessThan(0.05);
    const d = r.dirichlet(0.5, 6);
    expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(() => r.nextInt(0)).toThrow(/positive integer/);
    expect(() => r.gamma(0)).toThrow(/shape/);
    expect(() => createRng(Number.NaN)).toThrow(/finite/);
  });

  it('shuffle and permutation give permutations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer(), (n, seed) => {
        const p = permutation(n, createRng(seed));
        expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        const arr = Array.from({ length: n }, (_, i) => `x${i}`);
        const sh = shuffle(arr.slice(), createRng(seed));
        expect(sh.slice().sort()).toEqual(arr.slice().sort());
      }),
    );
  });
});

describe('subset', () => {
  it('copies the selected rows in order', () => {
    const ds = tinyDataset([0, 1, 2, 0, 1], 3);
    const s = subset(ds, [4, 0, 4]);
    expect(s.count).toBe(3);
    expect(Array.from(s.labels)).toEqual([1, 0, 1]);
    expect(Array.from(s.features)).toEqual([4, -4, 0, -0, 4, -4]);
    expect(s.featureShape).toEqual([2]);
    validateDataset(s);
    expect(() => subset(ds, [5])).toThrow(/out of range/);
  });
});

describe('loadMnist / trainTestSplit', () => {
  it('loads all 10,000 digits, cached', () => {
    const ds = loadMnist();
    expect(ds.count).toBe(10000);
    expect(ds.featureShape).toEqual([28, 28, 1]);
    expect(ds.numClasses).toBe(10);
    expect(ds.features.length).toBe(10000 * 784);
    validateDataset(ds);
    expect(classCounts(ds).every((c) => c > 800)).toBe(true);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < ds.features.length; i += 97) {
      min = Math.min(min, ds.features[i]!);
      max = Math.max(max, ds.features[i]!);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(loadMnist()).toBe(ds);
  });

  it('splits 80/20, stratified, disjoint, covering and deterministic', () => {
    const ds = loadMnist();
    const a = trainTestSplitIndices(ds.labels, 10, { seed: 1 });
    const b = trainTestSplitIndices(ds.labels, 10, { seed: 1 });
    const c = trainTestSplitIndices(ds.labels, 10, { seed: 2 });
    expect(a.train).toEqual(b.train);
    expect(a.test).not.toEqual(c.test);
    expectDisjointCover([a.train, a.test], ds.count);
    expect(a.test.length).toBeGreaterThanOrEqual(1995);
    expect(a.test.length).toBeLessThanOrEqual(2005);
    const all = classCounts(ds);
    const testCounts = classCounts({ labels: ds.labels.filter((_, i) => a.test.includes(i)), numClasses: 10 });
    for (let k = 0; k < 10; k++) expect(Math.abs(testCounts[k]! - 0.2 * all[k]!)).toBeLessThanOrEqual(0.5);
    const { train, test } = trainTestSplit(ds, { seed: 1 });
    expect(train.count + test.count).toBe(10000);
    expect(Array.from(test.labels.subarray(0, 50))).toEqual(Array.from(a.test.subarray(0, 50), (i) => ds.labels[i]!));
    const plain = trainTestSplitIndices(ds.labels, 10, { seed: 3, stratified: false, testFraction: 0.1 });
    expectDisjointCover([plain.train, plain.test], ds.count);
    expect(plain.test.length).toBe(1000);
    expect(() => trainTestSplit(ds, { seed: 1, testFraction: 1 })).toThrow(/testFraction/);
  });
});

describe('partitionIid', () => {
  it('is disjoint, covering and balanced (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }).chain((count) => fc.tuple(fc.constant(count), fc.integer({ min: 1, max: Math.min(count, 50) }))),
        fc.integer(),
        ([count, sites], seed) => {
          const parts = partitionIidIndices(count, sites, seed);
          expect(parts.length).toBe(sites);
          expectDisjointCover(parts, count);
          const sizes = parts.map((p) => p.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
          expect(partitionIidIndices(count, sites, seed)).toEqual(parts);
        },
      ),
    );
  });

  it('returns datasets and validates arguments', () => {
    const ds = tinyDataset([0, 1, 0, 1, 0, 1, 0], 2);
    const parts = partitionIid(ds, 3, 5);
    expect(parts.map((p) => p.count)).toEqual([3, 2, 2]);
    const ids = parts.flatMap((p) => Array.from({ length: p.count }, (_, j) => p.features[2 * j]!)).sort((a, b) => a - b);
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => partitionIid(ds, 0, 1)).toThrow(/numSites/);
    expect(() => partitionIid(ds, 1.5, 1)).toThrow(/numSites/);
    expect(() => partitionIid(ds, 8, 1)).toThrow(/cannot split 7 examples across 8 sites/);
    expect(() => partitionIid(ds, 2, Number.NaN)).toThrow(/seed/);
  });
});

describe('partitionDirichlet', () => {
  it('is disjoint and covering for any sizes, alphas and seeds (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom(0.01, 0.1, 0.5, 1, 10, 1000),
        fc.integer(),
        (numClasses, sites, extra, alpha, seed) => {
          const count = sites + extra;
          const rng = createRng(seed);
          const labels = Int32Array.from({ length: count }, () => rng.nextInt(numClasses));
          const parts = partitionDirichletIndices(labels, numClasses, sites, alpha, seed, { minPerSite: 0 });
          expect(parts.length).toBe(sites);
          expectDisjointCover(parts, count);
          // With a minimum, it either honours it or says it could not.
          try {
            const p1 = partitionDirichletIndices(labels, numClasses, sites, alpha, seed, { minPerSite: 1, maxAttempts: 50 });
            expectDisjointCover(p1, count);
            expect(p1.every((p) => p.length >= 1)).toBe(true);
          } catch (e) {
            expect(String(e)).toMatch(/no draw gave every site >= 1 examples in 50 attempts/);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('respects minPerSite (default 10) on MNIST and is deterministic', () => {
    const { train } = trainTestSplit(loadMnist(), { seed: 1 });
    const a = partitionDirichletIndices(train.labels, 10, 10, 0.5, 1);
    const b = partitionDirichletIndices(train.labels, 10, 10, 0.5, 1);
    const c = partitionDirichletIndices(train.labels, 10, 10, 0.5, 2);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expectDisjointCover(a, train.count);
    expect(Math.min(...a.map((p) => p.length))).toBeGreaterThanOrEqual(10);
    const bal = partitionDirichletIndices(train.labels, 10, 10, 0.5, 1, { selfBalancing: true });
    expectDisjointCover(bal, train.count);
    const ds = partitionDirichlet(train, 10, 0.5, 1);
    expect(ds.map((d) => d.count)).toEqual(a.map((p) => p.length));
  });

  it('label skew grows as alpha shrinks', () => {
    const rng = createRng(9);
    const labels = Int32Array.from({ length: 5000 }, () => rng.nextInt(10));
    const skew = (alpha: number): number => {
      let s = 0;
      for (let seed = 0; seed < 5; seed++) s += labelSkew(partitionDirichletIndices(labels, 10, 10, alpha, seed, { minPerSite: 0 }), labels, 10);
      return s / 5;
    };
    const s100 = skew(100);
    const s1 = skew(1);
    const s01 = skew(0.1);
    expect(s100).toBeLessThan(0.1);
    expect(s1).toBeGreaterThan(s100);
    expect(s01).toBeGreaterThan(s1);
    expect(s01).toBeGreaterThan(0.5);
    const iid = labelSkew(partitionIidIndices(5000, 10, 0), labels, 10);
    expect(iid).toBeLessThan(0.1);
  });

  it('validates arguments with clear errors', () => {
    const ds = tinyDataset([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], 2);
    expect(() => partitionDirichlet(ds, 2, 0, 1)).toThrow(/alpha must be a finite number > 0/);
    expect(() => partitionDirichlet(ds, 2, -1, 1)).toThrow(/alpha/);
    expect(() => partitionDirichlet(ds, 2, Number.NaN, 1)).toThrow(/alpha/);
    expect(() => partitionDirichlet(ds, 0, 1, 1)).toThrow(/numSites/);
    expect(() => partitionDirichlet(ds, 2, 1, 1)).toThrow(/minPerSite=10 x numSites=2 exceeds the 10/);
    expect(() => partitionDirichlet(ds, 2, 1, 1, { minPerSite: -1 })).toThrow(/minPerSite/);
    expect(() => partitionDirichlet(ds, 5, 0.001, 1, { minPerSite: 2, maxAttempts: 3 })).toThrow(/in 3 attempts/);
    expect(() => partitionDirichlet(tinyDataset([0, 5], 2), 1, 1, 1, { minPerSite: 0 })).toThrow(/label 5/);
  });
});
