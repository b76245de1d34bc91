/**
 * Special functions in float64 with *relative* accuracy in the tails, which the accountants need:
 * hockey-stick divergences of ~1e-20 are differences of normal tail probabilities.
 */

const SQRT_PI = Math.sqrt(Math.PI);
const SQRT2 = Math.SQRT2;
const LN2 = Math.LN2;

/** erf(x) for 0 ≤ x ≲ 3 by the all-positive series (Abramowitz & Stegun 7.1.6), so no cancellation. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return (2 / SQRT_PI) * Math.exp(-x2) * sum;
}

/** e^{x²}·erfc(x) for x ≥ 2 by Laplace's continued fraction (A&S 7.1.14), modified Lentz evaluation. */
function erfcxCf(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (SQRT_PI * f);
}

/**
 * erfcx on [0, TABLE_MAX) by Taylor expansion around centres spaced TABLE_STEP apart. erfcx is entire
 * and satisfies y' = 2xy − 2/√π, hence y⁽ⁿ⁺¹⁾ = 2x·y⁽ⁿ⁾ + 2n·y⁽ⁿ⁻¹⁾, which gives the Taylor coefficients
 * from one accurate value per centre. ~5× faster than the continued fraction near x = 2.
 */
const TABLE_STEP = 0.25;
const TABLE_MAX = 10;
const TABLE_TERMS = 22;
const TABLE: Float64Array = buildTable();

function buildTable(): Float64Array {
  const centres = Math.round(TABLE_MAX / TABLE_STEP) + 1;
  const t = new Float64Array(centres * TABLE_TERMS);
  for (let k = 0; k < centres; k++) {
    const c = k * TABLE_STEP;
    const a0 = c < 2 ? Math.exp(c * c) * (1 - erfSeries(c)) : erfcxCf(c);
    const base = k * TABLE_TERMS;
    t[base] = a0;
    let prev = a0;
    let cur = 2 * c * a0 - 2 / SQRT_PI;
    t[base + 1] = cur;
    for (let n = 1; n + 1 < TABLE_TERMS; n++) {
      const next = (2 * c * cur + 2 * prev) / (n + 1);
      t[base + n + 1] = next;
      prev = cur;
      cur = next;
    }
  }
  return t;
}

/** Scaled complementary error function e^{x²}·erfc(x), accurate to ~1e-15 relative for x ≥ 0. */
export function erfcx(x: number): number {
  if (x < 0) return Math.exp(x * x) * erfc(x);
  if (x >= TABLE_MAX) return erfcxCf(x);
  const k = Math.round(x / TABLE_STEP);
  const h = x - k * TABLE_STEP;
  const base = k * TABLE_TERMS;
  let s = TABLE[base + TABLE_TERMS - 1]!;
  for (let n = TABLE_TERMS - 2; n >= 0; n--) s = s * h + TABLE[base + n]!;
  return s;
}

const SERIES_MAX = 0.5;

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < SERIES_MAX) return 1 - erfSeries(x);
  if (x > 27) return 0;
  return erfcx(x) * Math.exp(-x * x);
}

/** log(erfc(x)), finite for all finite x (no underflow for large x). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return LN2;
  if (x < 0) return LN2 + Math.log1p(-0.5 * erfc(-x));
  if (x < SERIES_MAX) return Math.log1p(-erfSeries(x));
  return Math.log(erfcx(x)) - x * x;
}

/** Standard normal survival function Φ̄(t) = P(Z > t). */
export function normSf(t: number): number {
  return 0.5 * erfc(t / SQRT2);
}

/** Standard normal CDF Φ(t). */
export function normCdf(t: number): number {
  return 0.5 * erfc(-t / SQRT2);
}

export function logNormSf(t: number): number {
  return logErfc(t / SQRT2) - LN2;
}

export function logNormCdf(t: number): number {
  return logErfc(-t / SQRT2) - LN2;
}

/** Smallest z with Φ̄(z) ≤ p, for 0 < p < 0.5, by bisection on the monotone log-tail (used for truncation bounds). */
export function normSfInverse(p: number): number {
  const target = Math.log(p);
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = 0.5 * (lo + hi);
    if (logNormSf(mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** log(e^a + e^b) without overflow. */
export function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  if (a === Infinity || b === Infinity) return Infinity;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}
