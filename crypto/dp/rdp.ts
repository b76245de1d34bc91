/**
 * Rényi-DP accountant for the subsampled Gaussian mechanism.
 *
 * Poisson sampling (add/remove-one adjacency): exact RDP of Mironov, Talwar & Zhang, "Rényi Differential
 * Privacy of the Sampled Gaussian Mechanism" (2019, arXiv:1908.10530): for integer α the binomial
 * expansion of A_α (Sec. 3.2), for fractional α the two-sided series of Sec. 3.3. Everything is in log
 * space because A_α overflows float64 long before the RDP itself is large.
 *
 * Sampling without replacement (replace-one adjacency, batch size public): the general upper bound of
 * Wang, Balle & Kasiviswanathan, "Subsampled Rényi DP and Analytical Moments Accountant" (AISTATS 2019,
 * Theorem 9 with ε(∞) = ∞ for the Gaussian), interpolated at fractional α by convexity of the cumulant
 * generating function (their Corollary 10).
 */
import { DpError, assertDelta, invalidParameter } from './errors.ts';
import { samplingOf, validateEvent } from './events.ts';
import type { GaussianEvent } from './events.ts';
import { logAdd, logErfc } from './special.ts';

function buildDefaultOrders(): Float64Array {
  const orders: number[] = [];
  for (let k = 11; k <= 109; k++) orders.push(k / 10);
  for (let a = 11; a <= 63; a++) orders.push(a);
  orders.push(80, 96, 128, 160, 192, 256, 512, 1024);
  return Float64Array.from(orders);
}

/** 1.1, 1.2, …, 10.9, then 11…63, then 80, 96, 128, 160, 192, 256, 512, 1024. */
export const DEFAULT_ORDERS: Float64Array = buildDefaultOrders();

const LN_HALF = Math.log(0.5);
const MAX_FRAC_TERMS = 1000;
/** Stop the fractional series once a term is below e^{−30} of the sum (the dp_accounting criterion). */
const STOP_RATIO = Math.exp(-30);

/** log k! for k ≤ 4096 (exact sums of logs), for binomial coefficients at integer orders. */
const LOG_FACT: Float64Array = (() => {
  const t = new Float64Array(4097);
  for (let k = 1; k < t.length; k++) t[k] = t[k - 1]! + Math.log(k);
  return t;
})();

function logBinom(n: number, k: number): number {
  if (n < LOG_FACT.length) return LOG_FACT[n]! - LOG_FACT[k]! - LOG_FACT[n - k]!;
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}

/** log A_α for integer α ≥ 2 and 0 < q < 1: log Σ_k C(α,k) q^k (1−q)^(α−k) e^{(k²−k)/(2σ²)}. */
function logAInt(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const inv2s2 = 1 / (2 * sigma * sigma);
  const terms = new Float64Array(alpha + 1);
  let max = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    const t = logBinom(alpha, k) + k * logQ + (alpha - k) * log1mQ + (k * k - k) * inv2s2;
    terms[k] = t;
    if (t > max) max = t;
  }
  // Terms below e^{−40}·max cannot change the float64 sum; skip their exp.
  const cut = max - 40;
  let s = 0;
  for (let k = 0; k <= alpha; k++) {
    const t = terms[k]!;
    if (t > cut) s += Math.exp(t - max);
  }
  return max + Math.log(s);
}

/**
 * log A_α for fractional α (Mironov et al. 2019, Sec. 3.3): A_α splits at z₀ = σ²·log(1/q − 1) + ½ into
 * two integrals, each expanded with the generalised binomial series; each term is a Gaussian tail.
 * For k > ⌊α⌋ + 1 the coefficients C(α,k) alternate in sign. The signed series is exact (taking |C| would
 * overstate RDP at α = 1.5 by ~3% for q = 0.01, σ = 2.5 — the published value 6.5007e-4 needs signs),
 * so positive and negative parts are accumulated separately. Past the peak the terms decay only
 * polynomially (~k^{−α−2}), so we stop at a relative size of e^{−30}; for an alternating tail the error
 * is below the first omitted term. Returns +∞ if the series does not settle (as the references do).
 */
class FracSeries {
  readonly z0: number;
  readonly logQ: number;
  readonly log1mQ: number;
  readonly inv2s2: number;
  readonly invSqrt2Sigma: number;
  /** log erfc((i − z₀)/(√2σ)) does not depend on α: shared by every fractional order of one event. */
  #e0: number[] = [];

  constructor(q: number, sigma: number) {
    this.z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
    this.logQ = Math.log(q);
    this.log1mQ = Math.log1p(-q);
    this.inv2s2 = 1 / (2 * sigma * sigma);
    this.invSqrt2Sigma = 1 / (Math.SQRT2 * sigma);
  }

  #logE0(i: number): number {
    const e0 = this.#e0;
    while (e0.length <= i) e0.push(logErfc((e0.length - this.z0) * this.invSqrt2Sigma));
    return e0[i]!;
  }

  /**
   * log erfc((z₀ − α + i)/(√2σ)). For orders on a 0.1 grid (all default fractional orders) the argument
   * depends only on 10i − 10α, so values are shared across orders.
   */
  #logE1(i: number, alpha: number, tenths: number): number {
    if (tenths < 0) return logErfc((this.z0 - alpha + i) * this.invSqrt2Sigma);
    const key = 10 * i - tenths + 1100;
    const cache = this.#e1;
    let v = key >= 0 ? cache[key] : undefined;
    if (v === undefined) {
      v = logErfc((this.z0 - alpha + i) * this.invSqrt2Sigma);
      if (key >= 0) cache[key] = v;
    }
    return v;
  }

  #e1: (number | undefined)[] = [];

  logA(alpha: number): number {
    const { logQ, log1mQ, inv2s2 } = this;
    const t10 = Math.round(alpha * 10);
    const tenths = Math.abs(alpha * 10 - t10) < 1e-9 && t10 <= 1100 ? t10 : -1;
    // Positive and negative parts as scaled linear sums: value = sum · e^{scale}.
    let pos = 0;
    let neg = 0;
    let scale = -Infinity;
    let logC = 0;
    let positive = true;
    let lastS0 = -Infinity;
    let lastS1 = -Infinity;
    for (let i = 0; i < MAX_FRAC_TERMS; i++) {
      if (i > 0) {
        const f = alpha - i + 1;
        logC += Math.log(Math.abs(f) / i);
        if (f < 0) positive = !positive;
      }
      const j = alpha - i;
      const logS0 = logC + i * logQ + j * log1mQ + (i * i - i) * inv2s2 + LN_HALF + this.#logE0(i);
      const logS1 = logC + j * logQ + i * log1mQ + (j * j - j) * inv2s2 + LN_HALF + this.#logE1(i, alpha, tenths);
      const top = logS0 > logS1 ? logS0 : logS1;
      if (top > scale) {
        const r = Math.exp(scale - top);
        pos *= r;
        neg *= r;
        scale = top;
      }
      const term = Math.exp(logS0 - scale) + Math.exp(logS1 - scale);
      if (positive) pos += term;
      else neg += term;
      if (logS0 < lastS0 && logS1 < lastS1 && term < pos * STOP_RATIO) {
        if (!(pos > neg)) return Infinity;
        return scale + Math.log(pos - neg);
      }
      lastS0 = logS0;
      lastS1 = logS1;
    }
    return Infinity;
  }
}

function logAFrac(q: number, sigma: number, alpha: number): number {
  return new FracSeries(q, sigma).logA(alpha);
}

/** RDP at order α of one Poisson-subsampled Gaussian step with noise multiplier σ and rate q. */
export function rdpPoissonGaussian(q: number, sigma: number, alpha: number): number {
  if (!(alpha > 1)) throw invalidParameter(`RDP order must be > 1, got ${alpha}`);
  if (sigma === 0) return Infinity;
  if (alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  // A_α ≥ 1 mathematically; rounding can leave log A_α a hair below 0.
  return Math.max(0, logA / (alpha - 1));
}

/** (α−1)·RDP(α) of sampling without replacement at integer α (WBK19 Thm 9 with ε(j) = j/(2σ²), ε(∞) = ∞). */
function cgfWorInt(q: number, sigma: number, alpha: number): number {
  if (alpha === 1) return 0;
  const inv2s2 = 1 / (2 * sigma * sigma);
  const logQ = Math.log(q);
  // j = 2 term: γ²·C(α,2)·min{4(e^{ε(2)} − 1), 2e^{ε(2)}} with ε(2) = 1/σ².
  const eps2 = 2 * inv2s2;
  const logMin2 = Math.min(Math.log(4) + eps2 + Math.log(-Math.expm1(-eps2)), Math.LN2 + eps2);
  let logC = Math.log((alpha * (alpha - 1)) / 2);
  let acc = logAdd(0, 2 * logQ + logC + logMin2);
  // j ≥ 3 terms: γ^j·C(α,j)·2·e^{(j−1)ε(j)}, (j−1)ε(j) = j(j−1)/(2σ²).
  for (let j = 3; j <= alpha; j++) {
    logC += Math.log((alpha - j + 1) / j);
    acc = logAdd(acc, j * logQ + logC + Math.LN2 + j * (j - 1) * inv2s2);
  }
  return acc;
}

/** RDP at order α of one Gaussian step on a uniformly random fixed-size batch (rate q = m/n). */
export function rdpWithoutReplacementGaussian(q: number, sigma: number, alpha: number): number {
  if (!(alpha > 1)) throw invalidParameter(`RDP order must be > 1, got ${alpha}`);
  if (sigma === 0) return Infinity;
  if (alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (Number.isInteger(alpha)) return cgfWorInt(q, sigma, alpha) / (alpha - 1);
  const lo = Math.floor(alpha);
  const hi = Math.ceil(alpha);
  const t = alpha - lo;
  return ((1 - t) * cgfWorInt(q, sigma, lo) + t * cgfWorInt(q, sigma, hi)) / (alpha - 1);
}

/** RDP of a whole event (one step's RDP times `count`) at each requested order. */
export function rdpAtOrders(event: GaussianEvent, orders: ArrayLike<number>): Float64Array {
  const e = validateEvent(event);
  const out = new Float64Array(orders.length);
  const q = e.sampleRate;
  const sigma = e.noiseMultiplier;
  if (samplingOf(e) === 'without-replacement') {
    for (let i = 0; i < orders.length; i++) out[i] = rdpWithoutReplacementGaussian(q, sigma, orders[i]!) * e.count;
    return out;
  }
  const frac = q < 1 && sigma > 0 ? new FracSeries(q, sigma) : null;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const perStep = frac && !Number.isInteger(a) && a !== Infinity && a > 1
      ? Math.max(0, frac.logA(a) / (a - 1))
      : rdpPoissonGaussian(q, sigma, a);
    out[i] = perStep * e.count;
  }
  return out;
}

/** RDP of an event at DEFAULT_ORDERS (per order, times count). */
export function rdpVector(event: GaussianEvent): Float64Array {
  return rdpAtOrders(event, DEFAULT_ORDERS);
}

/**
 * RDP → (ε, δ) by Balle, Barthe, Gaboardi, Hsu & Sato, "Hypothesis Testing Interpretations and Rényi DP"
 * (AISTATS 2020, Thm 21): ε = r + log((α−1)/α) − (log δ + log α)/(α−1), minimised over α. This is the
 * conversion of Opacus `get_privacy_spent` and dp_accounting `compute_epsilon`; like the latter we also
 * use δ ≤ √(1 − e^{−KL}) (Pinsker-type bound) to return ε = 0 when even order ~1 certifies δ.
 */
export function epsilonFromRdp(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number): { epsilon: number; order: number } {
  assertDelta(delta);
  if (orders.length !== rdp.length || orders.length === 0) {
    throw invalidParameter('orders and rdp must be non-empty and of equal length');
  }
  let best = Infinity;
  let bestOrder = orders[0]!;
  const logDelta = Math.log(delta);
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    if (!(a >= 1)) throw invalidParameter(`RDP order must be ≥ 1, got ${a}`);
    let eps: number;
    if (Number.isNaN(r)) throw new DpError('DP_NUMERICAL', `RDP at order ${a} is NaN`);
    if (r < 0) eps = 0;
    else if (delta * delta + Math.expm1(-r) > 0) eps = 0;
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
    else eps = Infinity;
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** Accumulates RDP curves; composition is addition per order (Mironov 2017, Prop. 1). */
export class RdpAccountant {
  readonly orders: Float64Array;
  #rdp: Float64Array;
  #cache = new Map<string, Float64Array>();

  constructor(orders: ArrayLike<number> = DEFAULT_ORDERS) {
    for (let i = 0; i < orders.length; i++) {
      if (!(orders[i]! > 1)) throw invalidParameter(`RDP orders must be > 1, got ${orders[i]}`);
    }
    if (orders.length === 0) throw invalidParameter('at least one RDP order is required');
    this.orders = Float64Array.from(orders);
    this.#rdp = new Float64Array(orders.length);
  }

  /** Adds one event. The per-step curve is memoised by (σ, q, sampling), so repeats cost O(orders). */
  compose(event: GaussianEvent): void {
    const e = validateEvent(event);
    const key = `${e.noiseMultiplier}|${e.sampleRate}|${samplingOf(e)}`;
    let step = this.#cache.get(key);
    if (!step) {
      step = rdpAtOrders({ ...e, count: 1 }, this.orders);
      this.#cache.set(key, step);
    }
    for (let i = 0; i < step.length; i++) this.#rdp[i] = this.#rdp[i]! + step[i]! * e.count;
  }

  epsilon(delta: number): { epsilon: number; order: number } {
    return epsilonFromRdp(this.orders, this.#rdp, delta);
  }

  /** A copy of the accumulated RDP per order. */
  get rdp(): Float64Array {
    return Float64Array.from(this.#rdp);
  }
}
