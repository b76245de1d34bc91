/**
 * Rényi-DP accountant for the subsampled Gaussian mechanism.
 *
 * Poisson sampling (add/remove-one adjacency): exact RDP of Mironov, Talwar & Zhang, "Rényi Differential
 * Privacy of the Sampled Gaussian Mechanism" (2019, arXiv:1908.10530): for integer α the binomial
 * expansion of A_α (Sec. 3.2), for fractional α the two-sided series of Sec. 3.3 or, where that series
 * converges too slowly, quadrature of A_α − 1 with its error and tails bounded (GapQuadrature).
 * Everything is in log space because A_α overflows float64 long before the RDP itself is large.
 *
 * Sampling without replacement (replace-one adjacency, batch size public): the general upper bound of
 * Wang, Balle & Kasiviswanathan, "Subsampled Rényi DP and Analytical Moments Accountant" (AISTATS 2019,
 * Theorem 9 with ε(∞) = ∞ for the Gaussian), interpolated at fractional α by convexity of the cumulant
 * generating function (their Corollary 10). Replacing a record moves the clipped sum by up to 2C, so the
 * base Gaussian there has noise multiplier σ/2.
 *
 * σ = 0, or σ small enough that 1/(2σ²) overflows (isUnboundedNoise), has RDP +∞ at every order.
 */
import { DpError, assertDelta, invalidParameter } from './errors.ts';
import { isUnboundedNoise, samplingOf, validateEvent } from './events.ts';
import type { GaussianEvent } from './events.ts';
import { logAdd, logErfc, logNormSf } from './special.ts';

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
/** Where the series needs more terms it converges slowly (a polynomial tail); quadrature is faster there. */
const MAX_FRAC_TERMS = 64;
/** Stop the fractional series once a term is below e^{−30} of the sum (the dp_accounting criterion). */
const STOP_RATIO = Math.exp(-30);
const LN_MAX_TERMS = Math.log(MAX_FRAC_TERMS);
/** Slots of the shared log erfc cache: key 10i − 10α + 1100 for i < MAX_FRAC_TERMS and α ≥ 1.1. */
const E1_CACHE = 10 * MAX_FRAC_TERMS + 1100;

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

/** Scratch space of logAInt (it runs ~10⁵ times when a history has many distinct events). */
let INT_TERMS = new Float64Array(1025);

/** log A_α for integer α ≥ 2 and 0 < q < 1: log Σ_k C(α,k) q^k (1−q)^(α−k) e^{(k²−k)/(2σ²)}. */
function logAInt(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const inv2s2 = 1 / (2 * sigma * sigma);
  if (INT_TERMS.length <= alpha) INT_TERMS = new Float64Array(2 * alpha + 2);
  const terms = INT_TERMS;
  let max = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    const t = logBinom(alpha, k) + k * logQ + (alpha - k) * log1mQ + (k * k - k) * inv2s2;
    terms[k] = t;
    if (t > max) max = t;
  }
  if (max === Infinity) return Infinity;
  // Terms below e^{−40}·max cannot change the float64 sum; skip their exp. Compare differences, not
  // t > max − 40: for max ≳ 1e17 (σ ≲ 1e-8) max − 40 rounds to max, every term was skipped and log 0
  // became RDP 0 — ε = 0 for an almost noiseless release.
  let s = 0;
  for (let k = 0; k <= alpha; k++) {
    const d = terms[k]! - max;
    if (d > -40) s += Math.exp(d);
  }
  return max + Math.log(s);
}

/**
 * log A_α for fractional α (Mironov et al. 2019, Sec. 3.3): A_α splits at z₀ = σ²·log(1/q − 1) + ½ into
 * two integrals, each expanded with the generalised binomial series; each term is a Gaussian tail.
 * For k > ⌊α⌋ + 1 the coefficients C(α,k) alternate in sign. The signed series is exact (taking |C| would
 * overstate RDP at α = 1.5 by ~3% for q = 0.01, σ = 2.5 — the published value 6.5007e-4 needs signs),
 * so positive and negative parts are accumulated separately. Past the peak the terms decay only
 * polynomially (~k^{−α−2}, with amplitude ~e^{−z₀²/(2σ²)}), so we stop at a relative size of e^{−30}; for
 * an alternating tail the error is below the first omitted term. Where the series does not settle within
 * MAX_FRAC_TERMS (a slow polynomial tail: small α, z₀/σ ≲ 5, e.g. α = 1.1–1.8 at q = 0.5, σ = 1) or
 * cancels (pos ≈ neg), A_α is integrated directly instead (GapQuadrature). Such orders used to be
 * reported as +∞ (after 1000 terms), which overstated ε by up to ~15% against Opacus on the same orders.
 */
class FracSeries {
  readonly q: number;
  readonly sigma: number;
  readonly z0: number;
  readonly logQ: number;
  readonly log1mQ: number;
  readonly inv2s2: number;
  readonly invSqrt2Sigma: number;
  /** log erfc((i − z₀)/(√2σ)) does not depend on α: shared by every fractional order of one event. */
  #e0: number[] = [];

  /** `alphaMax`: the largest fractional order that will be asked for (the quadrature's domain). */
  constructor(q: number, sigma: number, alphaMax = 0) {
    this.q = q;
    this.sigma = sigma;
    this.#quadMax = alphaMax;
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
    const key = 10 * i - tenths + 1100;
    if (tenths < 0 || key < 0 || key >= E1_CACHE) return logErfc((this.z0 - alpha + i) * this.invSqrt2Sigma);
    const cache = (this.#e1 ??= new Float64Array(E1_CACHE).fill(NaN));
    let v = cache[key]!;
    if (Number.isNaN(v)) {
      v = logErfc((this.z0 - alpha + i) * this.invSqrt2Sigma);
      cache[key] = v;
    }
    return v;
  }

  #e1: Float64Array | null = null;

  logA(alpha: number): number {
    // The series' tail has amplitude ~e^{−z₀²/(2σ²)} and decays like k^{−α−2}: where that cannot reach
    // e^{−30} within MAX_FRAC_TERMS terms, go straight to quadrature (speed only: both are checked).
    const z = this.z0 * this.invSqrt2Sigma;
    if (z * z >= 30 - (alpha + 2) * LN_MAX_TERMS) {
      const s = this.#series(alpha);
      if (!Number.isNaN(s)) return s;
    }
    if (!this.#quad || alpha > this.#quadMax) {
      this.#quadMax = Math.max(alpha, this.#quadMax);
      this.#quad = new GapQuadrature(this.q, this.sigma, this.#quadMax);
    }
    const v = this.#quad.logA(alpha);
    return Number.isNaN(v) ? logAQuadrature(this.q, this.sigma, alpha) : v;
  }

  #quad: GapQuadrature | null = null;
  #quadMax: number;

  /** The two-sided series, or NaN where it does not settle or cancels. */
  #series(alpha: number): number {
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
      if (Number.isNaN(logS0) || Number.isNaN(logS1)) return NaN;
      const top = logS0 > logS1 ? logS0 : logS1;
      if (top > scale) {
        const r = Math.exp(scale - top);
        pos *= r;
        neg *= r;
        scale = top;
      }
      const term = scale === -Infinity ? 0 : Math.exp(logS0 - scale) + Math.exp(logS1 - scale);
      if (positive) pos += term;
      else neg += term;
      // A term that underflowed to −∞ (tiny σ) counts as decreasing.
      const falling0 = logS0 < lastS0 || logS0 === -Infinity;
      const falling1 = logS1 < lastS1 || logS1 === -Infinity;
      if (falling0 && falling1 && term < pos * STOP_RATIO) {
        // pos − neg below 1e-3·pos would leave under ~11 significant digits: integrate instead.
        if (!(pos - neg > 1e-3 * pos)) return NaN;
        return scale + Math.log(pos - neg);
      }
      lastS0 = logS0;
      lastS1 = logS1;
    }
    return NaN;
  }
}

/**
 * The α-free parts of the quadrature integrand at one node: u = (2z−1)/(2σ²), t = q·(e^u − 1),
 * l1 = log(1 + t) and logT = log t (t > 0 only), each formed without overflow.
 */
interface GapPoint {
  u: number;
  t: number;
  l1: number;
  logT: number;
}

function gapPoint(u: number, q: number, logQ: number): GapPoint {
  if (u < 30) {
    const t = q * Math.expm1(u);
    return { u, t, l1: Math.log1p(t), logT: t > 0 ? Math.log(t) : -Infinity };
  }
  // t itself may overflow: log(1 + t) = u + log(q + (1 − q)e^{−u}).
  return { u, t: Infinity, l1: u + Math.log(q + (1 - q) * Math.exp(-u)), logT: logQ + u + Math.log1p(-Math.exp(-u)) };
}

/** log((1 + t)^α − 1 − α·t) ≥ −∞ (t ≥ −q > −1), to a few ulps relative: no cancellation in any branch. */
function logTangentGap(p: GapPoint, alpha: number): number {
  const { t } = p;
  if (p.u < 30 && Math.abs(t) * alpha < 0.5) {
    // Σ_{k≥2} C(α,k)·t^k: the terms shrink geometrically here, and the sum has the sign of the first.
    let c = (alpha * (alpha - 1)) / 2;
    let tk = t * t;
    let s = c * tk;
    for (let k = 2; k < 80; k++) {
      c *= (alpha - k) / (k + 1);
      tk *= t;
      const term = c * tk;
      s += term;
      if (Math.abs(term) <= 1e-17 * s) break;
    }
    return Math.log(s);
  }
  const l = alpha * p.l1;
  if (p.u < 30 && l < 30) return Math.log(Math.expm1(l) - alpha * t);
  // (1 + t)^α dominates: log of it, less the relative share of 1 + α·t (t > 0 here).
  return l + Math.log1p(-(Math.exp(-l) + alpha * Math.exp(p.logT - l)));
}

const QUAD_TOL = 1e-12;
const QUAD_MAX_INTERVALS = 1 << 16;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** The tails outside the domain must stay below e^{−34.5} ≈ 1e-15 of the total. */
const TAIL_LOG_RATIO = -34.5;

/**
 * log A_α by quadrature, for real α > 1 and 0 < q < 1, several α of one event sharing the nodes.
 * A_α − 1 = E_{z~N(0,σ²)}[(1+t)^α − 1 − α·t] with t = q·(e^{(2z−1)/(2σ²)} − 1): subtracting α·t changes
 * nothing (E[t] = 0: the likelihood ratio has mean 1) but leaves a non-negative integrand — the tangent of
 * the convex (1+t)^α lies below it — so nothing cancels even when A_α − 1 ≈ 1e-12. The integrand is
 * analytic in a strip around the real line (its nearest singularities are the zeros of 1 + t, at
 * |Im z| = πσ²), so the trapezoid rule converges geometrically as the step halves: we halve until two
 * estimates agree to QUAD_TOL and add their difference (which bounds the finer one's error many times
 * over). Outside [a, b] = [−z_L·σ, α_max + z_R·σ] the integral is bounded in closed form and that bound
 * is added too:
 *   left (u < 0, the gap decreases in t ∈ [−q, 0]):  Φ̄(z_L)·((1−q)^α − 1 + α·q);
 *   right (gap ≤ (1+t)^α ≤ c_b^α·e^{αu}, c_b = q + (1−q)e^{−u(b)}):  c_b^α·e^{(α²−α)/(2σ²)}·Φ̄((b − α)/σ).
 * So the result is an upper bound up to floating-point error; NaN where it cannot be certified (the tails
 * are not negligible, or the step would need more than QUAD_MAX_INTERVALS intervals).
 */
class GapQuadrature {
  readonly #q: number;
  readonly #sigma: number;
  readonly #inv2s2: number;
  readonly #logQ: number;
  readonly #logNorm: number;
  readonly #a: number;
  readonly #b: number;
  readonly #zL: number;
  /** Nodes of the finest level so far: n intervals of [a, b]. */
  #n: number;
  #points: GapPoint[];
  #logPhi: Float64Array;

  constructor(q: number, sigma: number, alphaMax: number, zL = 10, zR = 10) {
    this.#q = q;
    this.#sigma = sigma;
    this.#inv2s2 = 1 / (2 * sigma * sigma);
    this.#logQ = Math.log(q);
    this.#logNorm = -Math.log(sigma) - LOG_SQRT_2PI;
    this.#zL = zL;
    this.#a = -zL * sigma;
    this.#b = alphaMax + zR * sigma;
    // Step ~ a third of the smaller of σ (the Gaussian's width) and πσ² (the strip's half-width).
    const h0 = Math.min(sigma, Math.PI * sigma * sigma) / 3;
    this.#n = Math.max(32, Math.ceil((this.#b - this.#a) / h0));
    this.#points = [];
    this.#logPhi = new Float64Array(0);
    if (this.#n <= QUAD_MAX_INTERVALS) this.#build(this.#n);
  }

  #build(n: number): void {
    const pts: GapPoint[] = new Array<GapPoint>(n + 1);
    const lp = new Float64Array(n + 1);
    const h = (this.#b - this.#a) / n;
    for (let i = 0; i <= n; i++) {
      const z = this.#a + i * h;
      pts[i] = gapPoint((2 * z - 1) * this.#inv2s2, this.#q, this.#logQ);
      lp[i] = -z * z * this.#inv2s2 + this.#logNorm;
    }
    this.#n = n;
    this.#points = pts;
    this.#logPhi = lp;
  }

  logA(alpha: number): number {
    if (this.#n > QUAD_MAX_INTERVALS) return NaN;
    const sigma = this.#sigma;
    const q = this.#q;
    const zR = (this.#b - alpha) / sigma;
    const uB = (2 * this.#b - 1) * this.#inv2s2;
    const logLeft = logNormSf(this.#zL) + logTangentGap(gapPoint(-Infinity, q, this.#logQ), alpha);
    const logRight = alpha * Math.log(q + (1 - q) * Math.exp(-uB)) + (alpha * alpha - alpha) * this.#inv2s2 + logNormSf(zR);
    for (;;) {
      const n = this.#n;
      const v = new Float64Array(n + 1);
      let m = -Infinity;
      for (let i = 0; i <= n; i++) {
        const x = this.#logPhi[i]! + logTangentGap(this.#points[i]!, alpha);
        v[i] = x;
        if (x > m) m = x;
      }
      if (Number.isNaN(m)) return NaN;
      if (m === -Infinity) return 0;
      // Trapezoid sums at step h (all nodes) and 2h (even nodes), both scaled by e^{−m}.
      let fine = 0.5 * (Math.exp(v[0]! - m) + Math.exp(v[n]! - m));
      let coarse = fine;
      for (let i = 1; i < n; i++) {
        const e = Math.exp(v[i]! - m);
        fine += e;
        if ((i & 1) === 0) coarse += e;
      }
      const h = (this.#b - this.#a) / n;
      fine *= h;
      coarse *= 2 * h;
      const diff = Math.abs(fine - coarse);
      if (diff <= QUAD_TOL * fine) {
        const logGap = logAdd(m + Math.log(fine + diff), logAdd(logLeft, logRight));
        if (logLeft - logGap > TAIL_LOG_RATIO || logRight - logGap > TAIL_LOG_RATIO) return NaN;
        return logGap > 30 ? logGap + Math.log1p(Math.exp(-logGap)) : Math.log1p(Math.exp(logGap));
      }
      if (2 * n > QUAD_MAX_INTERVALS) return NaN;
      this.#build(2 * n);
    }
  }
}

/** log A_α by quadrature alone (GapQuadrature), widening the domain where the tails are not negligible. */
export function logAQuadrature(q: number, sigma: number, alpha: number): number {
  for (let z = 10; z < 40; z *= 1.5) {
    const v = new GapQuadrature(q, sigma, alpha, z, z).logA(alpha);
    if (!Number.isNaN(v)) return v;
  }
  return Infinity;
}

/** RDP at order α of one Poisson-subsampled Gaussian step with noise multiplier σ and rate q. */
export function rdpPoissonGaussian(q: number, sigma: number, alpha: number): number {
  if (!(alpha > 1)) throw invalidParameter(`RDP order must be > 1, got ${alpha}`);
  if (isUnboundedNoise(sigma)) return Infinity;
  if (alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : new FracSeries(q, sigma, alpha).logA(alpha);
  return rdpFromLogA(logA, alpha);
}

/** A_α ≥ 1 mathematically; rounding can leave log A_α a hair below 0. NaN is never returned as a number. */
function rdpFromLogA(logA: number, alpha: number): number {
  if (Number.isNaN(logA)) throw new DpError('DP_NUMERICAL', `log A at order ${alpha} is NaN`);
  return Math.max(0, logA / (alpha - 1));
}

/**
 * (α−1)·RDP(α) of sampling without replacement at integer α: WBK19 Thm 9 with the Gaussian's
 * ε(j) = j/(2s²), ε(∞) = ∞, where s is the noise multiplier relative to the replace-one sensitivity.
 */
function cgfWorInt(q: number, s: number, alpha: number): number {
  if (alpha === 1) return 0;
  const inv2s2 = 1 / (2 * s * s);
  const logQ = Math.log(q);
  // j = 2 term: γ²·C(α,2)·min{4(e^{ε(2)} − 1), 2e^{ε(2)}} with ε(2) = 1/s².
  const eps2 = 2 * inv2s2;
  const logMin2 = Math.min(Math.log(4) + eps2 + Math.log(-Math.expm1(-eps2)), Math.LN2 + eps2);
  let logC = Math.log((alpha * (alpha - 1)) / 2);
  let acc = logAdd(0, 2 * logQ + logC + logMin2);
  // j ≥ 3 terms: γ^j·C(α,j)·2·e^{(j−1)ε(j)}, (j−1)ε(j) = j(j−1)/(2s²).
  for (let j = 3; j <= alpha; j++) {
    logC += Math.log((alpha - j + 1) / j);
    acc = logAdd(acc, j * logQ + logC + Math.LN2 + j * (j - 1) * inv2s2);
  }
  return acc;
}

/**
 * RDP at order α of one Gaussian step on a uniformly random fixed-size batch (rate q = m/n), under
 * replace-one adjacency. Replacing one record moves the clipped sum by up to 2C, twice the clip norm the
 * noise multiplier σ is relative to, so the base mechanism is the Gaussian with multiplier σ/2
 * (RDP 2α/σ²). At q = 1 this is exactly that Gaussian mechanism. (Accounting it at sensitivity C, as
 * before, understated ε by about half.)
 */
export function rdpWithoutReplacementGaussian(q: number, sigma: number, alpha: number): number {
  if (!(alpha > 1)) throw invalidParameter(`RDP order must be > 1, got ${alpha}`);
  const s = sigma / REPLACE_ONE_SENSITIVITY;
  if (isUnboundedNoise(s)) return Infinity;
  if (alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * s * s);
  if (Number.isInteger(alpha)) return cgfWorInt(q, s, alpha) / (alpha - 1);
  const lo = Math.floor(alpha);
  const hi = Math.ceil(alpha);
  const t = alpha - lo;
  return ((1 - t) * cgfWorInt(q, s, lo) + t * cgfWorInt(q, s, hi)) / (alpha - 1);
}

/** Replace-one sensitivity of a sum of contributions clipped to norm C, in units of C. */
const REPLACE_ONE_SENSITIVITY = 2;

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
  let maxFrac = 0;
  for (let i = 0; i < orders.length; i++) if (!Number.isInteger(orders[i]!) && orders[i]! < Infinity) maxFrac = Math.max(maxFrac, orders[i]!);
  const frac = q < 1 && !isUnboundedNoise(sigma) ? new FracSeries(q, sigma, maxFrac) : null;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const perStep = frac && !Number.isInteger(a) && a !== Infinity && a > 1
      ? rdpFromLogA(frac.logA(a), a)
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
