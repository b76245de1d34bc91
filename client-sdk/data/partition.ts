/**
 * Horizontal partitioning of a dataset across federated sites.
 * Every partition is disjoint and together they cover every example exactly once.
 */
import { createRng, type Dataset, permutation, shuffle, subset } from './dataset.ts';

function checkSites(count: number, numSites: number, fn: string): void {
  if (!Number.isInteger(numSites) || numSites < 1) {
    throw new RangeError(`${fn}: numSites must be an integer >= 1, got ${numSites}`);
  }
  if (numSites > count) {
    throw new RangeError(`${fn}: cannot split ${count} examples across ${numSites} sites (need at least one per site)`);
  }
}

function checkSeed(seed: number, fn: string): void {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new TypeError(`${fn}: seed must be a finite number, got ${seed}`);
}

/** IID split: a seeded permutation cut into `numSites` chunks whose sizes differ by at most one. */
export function partitionIidIndices(count: number, numSites: number, seed: number): Int32Array[] {
  checkSites(count, numSites, 'partitionIid');
  checkSeed(seed, 'partitionIid');
  const perm = permutation(count, createRng(seed));
  const base = Math.floor(count / numSites);
  const extra = count % numSites;
  const out: Int32Array[] = [];
  let start = 0;
  for (let s = 0; s < numSites; s++) {
    const size = base + (s < extra ? 1 : 0);
    out.push(perm.slice(start, start + size));
    start += size;
  }
  return out;
}

export function partitionIid(ds: Dataset, numSites: number, seed: number): Dataset[] {
  return partitionIidIndices(ds.count, numSites, seed).map((idx) => subset(ds, idx));
}

export interface DirichletOptions {
  /** Re-draw the whole partition while some site has fewer examples than this. Default 10. */
  minPerSite?: number;
  /** Give up after this many draws (default 1000). */
  maxAttempts?: number;
  /**
   * Flower's `self_balancing`: when drawing a class's proportions, sites that
   * already hold >= count/numSites examples get none of it. Default false.
   */
  selfBalancing?: boolean;
}

/**
 * Label-skew split (Hsu et al. 2019; Flower's DirichletPartitioner): for each
 * class independently, proportions over sites are drawn from Dirichlet(alpha)
 * and the class's (shuffled) examples are cut accordingly. Smaller alpha means
 * more skew. The whole draw is repeated until every site has >= minPerSite examples.
 */
export function partitionDirichletIndices(
  labels: Int32Array,
  numClasses: number,
  numSites: number,
  alpha: number,
  seed: number,
  opts: DirichletOptions = {},
): Int32Array[] {
  const count = labels.length;
  checkSites(count, numSites, 'partitionDirichlet');
  checkSeed(seed, 'partitionDirichlet');
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) {
    throw new RangeError(`partitionDirichlet: alpha must be a finite number > 0, got ${alpha}`);
  }
  const minPerSite = opts.minPerSite ?? 10;
  const maxAttempts = opts.maxAttempts ?? 1000;
  if (!Number.isInteger(minPerSite) || minPerSite < 0) {
    throw new RangeError(`partitionDirichlet: minPerSite must be a non-negative integer, got ${minPerSite}`);
  }
  if (minPerSite * numSites > count) {
    throw new RangeError(
      `partitionDirichlet: minPerSite=${minPerSite} x numSites=${numSites} exceeds the ${count} available examples`,
    );
  }
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`partitionDirichlet: maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }

  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < count; i++) {
    const y = labels[i]!;
    if (!(y >= 0 && y < numClasses)) throw new RangeError(`partitionDirichlet: label ${y} at ${i} outside [0, ${numClasses})`);
    byClass[y]!.push(i);
  }

  const rng = createRng(seed);
  const target = count / numSites;
  let smallest = 0;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const sites: number[][] = Array.from({ length: numSites }, () => []);
    for (const cls of byClass) {
      if (cls.length === 0) continue;
      const idx = shuffle(cls.slice(), rng);
      let p = rng.dirichlet(alpha, numSites);
      if (opts.selfBalancing) {
        const q = p.map((v, s) => (sites[s]!.length < target ? v : 0));
        const qs = q.reduce((a, b) => a + b, 0);
        if (qs > 0) p = q.map((v) => v / qs);
      }
      let cum = 0;
      let start = 0;
      for (let s = 0; s < numSites; s++) {
        cum += p[s]!;
        const end = s === numSites - 1 ? idx.length : Math.min(idx.length, Math.round(cum * idx.length));
        for (let k = start; k < end; k++) sites[s]!.push(idx[k]!);
        start = Math.max(start, end);
      }
    }
    smallest = Math.min(...sites.map((s) => s.length));
    if (smallest >= minPerSite) return sites.map((s) => Int32Array.from(shuffle(s, rng)));
  }
  throw new Error(
    `partitionDirichlet: no draw gave every site >= ${minPerSite} examples in ${maxAttempts} attempts ` +
      `(alpha=${alpha}, numSites=${numSites}, count=${count}, last smallest site=${smallest}); ` +
      `lower minPerSite, raise alpha, or use fewer sites`,
  );
}

export function partitionDirichlet(
  ds: Dataset,
  numSites: number,
  alpha: number,
  seed: number,
  opts: DirichletOptions = {},
): Dataset[] {
  return partitionDirichletIndices(ds.labels, ds.numClasses, numSites, alpha, seed, opts).map((idx) => subset(ds, idx));
}
