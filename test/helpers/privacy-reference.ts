/**
 * Independent reference computations for the ledger's ε, written for the tests only and sharing
 * no code with crypto/dp: they check the accountants rather than repeat them.
 *
 * Both functions return a LOWER bound on the true ε of what was released (up to float error), so
 * "ledger ε ≥ reference ε" is a test the ledger can fail only by under-reporting.
 */

/** erfc by the continued fraction / series of Numerical Recipes' erfc-Chebyshev fit (|rel err| < 1.2e-7), enough for a bisection on δ. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
function phi(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/**
 * Exact ε of the Gaussian mechanism with noise multiplier σ (std ÷ sensitivity) at δ (Balle & Wang
 * 2018, Thm 8): δ(ε) = Φ(1/(2σ) − εσ) − e^ε Φ(−1/(2σ) − εσ), decreasing in ε; solved by bisection.
 * k compositions at σ₁..σ_k are one Gaussian at (Σσⱼ⁻²)^(−1/2), so this is exact for them too.
 */
export function exactGaussianEpsilon(sigma: number, delta: number): number {
  if (!(sigma > 0)) return Infinity;
  const d = (eps: number) => phi(1 / (2 * sigma) - eps * sigma) - Math.exp(eps) * phi(-1 / (2 * sigma) - eps * sigma);
  if (d(0) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (d(hi) > delta) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6) return Infinity;
  }
  // The erfc above has ~1e-7 relative error; stop well before that matters, and report the low end.
  for (let i = 0; i < 100 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (d(mid) > delta) lo = mid;
    else hi = mid;
  }
  return lo * (1 - 1e-6);
}

/** Composition of Gaussian releases at noise multipliers σⱼ (each at rate 1). */
export function composedGaussianSigma(sigmas: number[]): number {
  let s = 0;
  for (const x of sigmas) s += x ** -2;
  return s === 0 ? Infinity : s ** -0.5;
}

/**
 * A lower bound on ε after `rounds` releases of the Poisson-subsampled Gaussian with inclusion
 * probability r and noise multiplier σ, from the privacy-loss distribution of the "remove"
 * direction, P = (1−r)N(0,σ²) + rN(1,σ²) against Q = N(0,σ²), discretised OPTIMISTICALLY: every
 * cell's mass goes to the smallest loss in the cell and mass off the grid is dropped. Both only
 * lower δ(ε), so the ε found is ≤ the truth. Composition is direct convolution of the loss PMF.
 */
export function subsampledGaussianEpsilonLowerBound(sigma: number, r: number, rounds: number, delta: number): number {
  if (rounds === 0) return 0;
  if (r >= 1) return exactGaussianEpsilon(composedGaussianSigma(Array(rounds).fill(sigma)), delta);
  const h = 2e-3; // loss bin width
  const lo = -12 * sigma;
  const hi = 1 + 12 * sigma;
  const cells = 40_000;
  const dx = (hi - lo) / cells;
  const lossAt = (x: number) => Math.log(1 - r + r * Math.exp((2 * x - 1) / (2 * sigma * sigma)));
  const cdfP = (x: number) => (1 - r) * phi(x / sigma) + r * phi((x - 1) / sigma);
  const minLoss = Math.log(1 - r);
  const offset = Math.floor(minLoss / h);
  const single = new Map<number, number>();
  let prev = cdfP(lo);
  for (let k = 0; k < cells; k++) {
    const x0 = lo + k * dx;
    const next = cdfP(x0 + dx);
    const mass = next - prev;
    prev = next;
    if (mass <= 0) continue;
    const bin = Math.floor(lossAt(x0) / h);
    single.set(bin, (single.get(bin) ?? 0) + mass);
  }
  // Dense PMF from `offset`, without the far tail (< 1e-20 in all: dropping mass only lowers δ).
  let maxBin = offset;
  for (const b of single.keys()) maxBin = Math.max(maxBin, b);
  let base = new Float64Array(maxBin - offset + 1);
  for (const [b, m] of single) base[b - offset] = base[b - offset]! + m;
  let tail = 0;
  let end = base.length;
  while (end > 1 && tail + base[end - 1]! < 1e-20) tail += base[--end]!;
  base = base.slice(0, end);
  let pmf = base;
  let pmfOffset = offset;
  for (let t = 1; t < rounds; t++) {
    const out = new Float64Array(pmf.length + base.length - 1);
    for (let i = 0; i < pmf.length; i++) {
      const a = pmf[i]!;
      if (a < 1e-300) continue;
      for (let j = 0; j < base.length; j++) out[i + j] = out[i + j]! + a * base[j]!;
    }
    pmf = out;
    pmfOffset += offset;
  }
  const deltaAt = (eps: number) => {
    let d = 0;
    for (let i = 0; i < pmf.length; i++) {
      const loss = (i + pmfOffset) * h;
      if (loss > eps) d += pmf[i]! * -Math.expm1(eps - loss);
    }
    return d;
  };
  if (deltaAt(0) <= delta) return 0;
  let a = 0;
  let b = 1;
  while (deltaAt(b) > delta) {
    a = b;
    b *= 2;
    if (b > 1e4) return Infinity;
  }
  for (let i = 0; i < 60 && b - a > 1e-7; i++) {
    const mid = (a + b) / 2;
    if (deltaAt(mid) > delta) a = mid;
    else b = mid;
  }
  return a;
}

/**
 * Probability that a Poisson-binomial count with the given inclusion probabilities is ≥ k
 * (dynamic programming over the sites).
 */
export function probAtLeast(rates: number[], k: number): number {
  let dist = new Float64Array([1]);
  for (const r of rates) {
    const next = new Float64Array(dist.length + 1);
    for (let i = 0; i < dist.length; i++) {
      next[i] = next[i]! + dist[i]! * (1 - r);
      next[i + 1] = next[i + 1]! + dist[i]! * r;
    }
    dist = next;
  }
  let p = 0;
  for (let i = Math.max(0, k); i < dist.length; i++) p += dist[i]!;
  return p;
}

/**
 * Site i's inclusion probability in a round that is released only when at least m of the sites
 * (each included independently with rates[j]) contributed: rᵢ·P(S₋ᵢ ≥ m−1)/P(S ≥ m).
 */
export function conditionedInclusion(rates: number[], i: number, m: number): number {
  const others = rates.filter((_, j) => j !== i);
  return (rates[i]! * probAtLeast(others, m - 1)) / probAtLeast(rates, m);
}
