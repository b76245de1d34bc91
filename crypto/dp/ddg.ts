/**
 * Distributed discrete differential privacy for secure aggregation: every site adds integer noise
 * to its own quantized update, so the SUM that secure aggregation reveals carries the guarantee and
 * no party (the coordinator included) ever sees a less-noised value.
 *
 *  - Distributed discrete Gaussian (DDG): Kairouz, Liu & Steinke, "The Distributed Discrete Gaussian
 *    Mechanism for Federated Learning with Secure Aggregation", ICML 2021 (arXiv:2102.06387).
 *  - Skellam: Agarwal, Kairouz & Liu, "The Skellam Mechanism for Differentially Private Federated
 *    Learning", NeurIPS 2021 (arXiv:2110.04995) — accounted here (the site sampler is DDG's only).
 *
 * Site side (encodeSiteUpdate, in this order, paper Algorithm 1):
 *  1. clip to L2 norm C;
 *  2. optionally rotate by the randomized Hadamard transform of a public seed (rotation.ts), padding
 *     to a power of two;
 *  3. scale by 1/γ (γ the granularity, the quantization step in update units);
 *  4. conditional randomized rounding (paper Prop. 22 / Thm 1): round each coordinate up with
 *     probability its fractional part, and redraw the whole vector until its L2 norm is at most
 *       Δ₂ = min{ c + √d,  √(c² + d/4 + √(2 ln(1/β))·(c + √d/2)) },  c = C/γ,
 *     which succeeds with probability ≥ 1 − β per draw. Δ₂ is the L2 sensitivity the accountant
 *     uses; the check is exact integer arithmetic, so the bound holds for every vector sent;
 *  5. add N_Z(0, σ²) per coordinate, σ = localStddev/γ (discrete-gaussian.ts, exact sampler);
 *  6. reduce mod 2^32 (the secure-aggregation ring).
 * The coordinator decodes the modular sum (decodeSum): centred lift to [−2^31, 2^31), times γ,
 * inverse rotation.
 *
 * Modular wrap (requiredSumBits / assertNoWrap): the centred lift returns the true integer sum when
 * that sum lies in [−2^(b−1), 2^(b−1)). Each site's rounded vector has ‖x̃‖₂ ≤ Δ₂, so every
 * coordinate is at most ⌊Δ₂⌋ in absolute value and n sites' signal at most n·⌊Δ₂⌋ — deterministically.
 * The noise of the sum is unbounded, so its part of the bound holds except with probability
 * wrapProbability (default 2^-40), by a union bound over the d coordinates of a Chernoff bound:
 * N_Z(0, σ²) is σ-subgaussian (Canonne, Kamath & Steinke 2020, Cor. 9), so the sum of n is
 * √n·σ-subgaussian; a Skellam of variance μ has the moment generating function exp(μ(cosh s − 1)).
 * Wrapping is a matter of accuracy, never of privacy: the reduction mod 2^b is post-processing.
 *
 * Accounting (distributedDiscreteRdp, paper Prop. 14 / Eq. 17; Skellam paper Thm 3.5): with n the
 * number of sites whose noise is in the sum (the SURVIVORS of a round: fewer survivors, less noise),
 * Δ₁ = Δ₂·min(√d, Δ₂) (integer vectors: ‖x‖₁ ≤ ‖x‖₂²), per round at integer order α
 *   DDG:     min{ αΔ₂²/(2nσ²) + τd,  α/2·(Δ₂²/(nσ²) + 2Δ₁τ/√(nσ²) + τ²d),  α/2·(Δ₂/√(nσ²) + τ√d)² },
 *            τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1))  (the sum of n discrete Gaussians is not one);
 *   Skellam: αΔ₂²/(2μ) + min{ ((2α − 1)Δ₂² + 6Δ₁)/(4μ²),  3Δ₁/(2μ) },  μ = nσ² (the sum's variance);
 * all in the scaled integer units. Poisson subsampling of the sites at rate q by the general upper
 * bound of Zhu & Wang, "Poisson Subsampled Rényi Differential Privacy" (ICML 2019, Thm 5), taking the
 * smaller of it and the unamplified RDP; T rounds compose by addition (Mironov 2017); fractional
 * orders take the bound at ⌈α⌉ (RDP is non-decreasing in α); (ε, δ) by the conversion of
 * epsilonFromRdp. These are the formulas of the paper's public code (google-research/federated,
 * distributed_dp/accounting_utils.py), re-derived and checked against it in ddg.test.ts.
 * Adjacency: one site's update replaced by zero (zero-out), every sampled site still adding its noise
 * share: the paper's, and what its accountant computes (coordinator/privacy/ddg-plan.ts).
 */
import { DpError, assertDelta, invalidParameter } from './errors.ts';
import type { GaussianEvent } from './events.ts';
import { composeRdp } from './rdp-compose.ts';
import { DEFAULT_ORDERS, epsilonFromRdp } from './rdp.ts';
import { CryptoRandom, fillDiscreteGaussian, type RandomSource } from './discrete-gaussian.ts';
import { paddedLength, rotate, unrotate } from './rotation.ts';

export type DistributedMechanism = 'ddg' | 'skellam';

/** The secure-aggregation ring is Z_{2^32}. */
export const SUM_BITS = 32;
/** Default probability that the noise of some coordinate's sum leaves the modular range. */
export const DEFAULT_WRAP_PROBABILITY = 2 ** -40;
/** Scaled noise std up to which the exact sampler stays in fast float64 integer arithmetic. */
export const DEFAULT_MAX_SCALED_STDDEV = 1024;
/** A site gives up after this many rounding draws (each succeeds with probability ≥ 1 − β). */
const MAX_ROUNDING_ATTEMPTS = 1000;
/** Scaled squared norms stay below this, so integer sums of squares are exact in float64. */
const MAX_SQUARED_NORM = 2 ** 50;

function positive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw invalidParameter(`${name} must be a positive finite number, got ${String(v)}`);
  return v;
}

function checkBeta(beta: unknown): number {
  if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) throw invalidParameter(`beta (conditional rounding) must be in [0, 1), got ${String(beta)}`);
  return beta;
}

function positiveInteger(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw invalidParameter(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * The L2 norm bound after conditional randomized rounding of a vector of norm ≤ `scaledClip` in d
 * dimensions (paper Thm 1 / Prop. 22); β = 0 is unconditional rounding (always within c + √d).
 */
export function roundedL2Bound(scaledClip: number, beta: number, dim: number): number {
  positive('the scaled clip norm', scaledClip);
  checkBeta(beta);
  positiveInteger('dim', dim);
  const plain = scaledClip + Math.sqrt(dim);
  if (beta === 0) return plain;
  const squared = scaledClip * scaledClip + dim / 4 + Math.sqrt(2 * Math.log(1 / beta)) * (scaledClip + Math.sqrt(dim) / 2);
  return Math.min(plain, Math.sqrt(squared));
}

/** The length of the integer vector a site sends: the update's, padded to a power of two when rotated. */
export function encodedLength(dim: number, rotated: boolean): number {
  return rotated ? paddedLength(dim) : positiveInteger('dim', dim);
}

// ---------------------------------------------------------------------------------------------
// Site side

/**
 * Conditional randomized rounding: each coordinate rounds up with probability its fractional part
 * (unbiased), and the whole vector is redrawn until Σ r² ≤ boundSquared, checked in exact integer
 * arithmetic (boundSquared < 2^50). Throws after MAX_ROUNDING_ATTEMPTS draws.
 */
export function conditionalRound(x: Float64Array, boundSquared: number, random: RandomSource = new CryptoRandom()): { rounded: Float64Array; attempts: number } {
  if (!(boundSquared >= 0 && boundSquared < MAX_SQUARED_NORM)) throw invalidParameter(`the squared norm bound must be in [0, 2^50), got ${boundSquared}`);
  const rounded = new Float64Array(x.length);
  let attempts = 0;
  for (;;) {
    if (++attempts > MAX_ROUNDING_ATTEMPTS) {
      throw new DpError('DP_NUMERICAL', `conditional rounding failed ${MAX_ROUNDING_ATTEMPTS} times; raise beta or refine the granularity`);
    }
    let s = 0;
    for (let i = 0; i < x.length && s <= boundSquared; i++) {
      const f = Math.floor(x[i]!);
      const frac = x[i]! - f;
      const u = ((random.uint32() >>> 5) * 67108864 + (random.uint32() >>> 6)) * 2 ** -53;
      const r = u < frac ? f + 1 : f;
      rounded[i] = r;
      s += r * r;
    }
    // s is an exact integer while it stays below 2^50 > boundSquared: the check is exact.
    if (s <= boundSquared) return { rounded, attempts };
  }
}

export interface DdgSiteParams {
  /** C: the L2 clip norm, in update units. */
  clip: number;
  /** This site's noise std in update units (before scaling by 1/γ). */
  localStddev: number;
  /** γ: the quantization step, in update units. */
  granularity: number;
  /** β ∈ [0, 1): the conditional-rounding parameter. */
  beta: number;
  /** The round's public 32-byte rotation seed; absent or null: no rotation. */
  rotationSeed?: Uint8Array | null;
}

export interface DdgEncoded {
  /** The noised integer vector mod 2^32, length encodedLength(update.length, rotated). */
  values: Uint32Array;
  /** Whether clipping changed the update (for adaptive clipping; travels masked, never in the clear). */
  clipped: boolean;
  /** The update's L2 norm before clipping. */
  norm: number;
  /** Rounding draws used (1 + rejections). */
  attempts: number;
}

function checkSite(p: DdgSiteParams): { scaledClip: number; scaledStddev: number } {
  const clip = positive('clip', p.clip);
  const stddev = positive('localStddev', p.localStddev);
  const granularity = positive('granularity', p.granularity);
  checkBeta(p.beta);
  if (p.rotationSeed != null && p.rotationSeed.length !== 32) throw invalidParameter('the rotation seed is 32 bytes');
  const scaledStddev = stddev / granularity;
  // Thm 1 of the paper holds for σ ≥ 1/2 in the integer units.
  if (!(scaledStddev >= 0.5)) throw invalidParameter(`localStddev/granularity must be at least 1/2 (the discrete Gaussian sum bound needs it), got ${scaledStddev}`);
  return { scaledClip: clip / granularity, scaledStddev };
}

/**
 * One site's contribution: clip, rotate, scale, round conditionally, add N_Z(0, (localStddev/γ)²),
 * reduce mod 2^32. `out`, when given, receives the values (length encodedLength(update.length, rotated)).
 */
export function encodeSiteUpdate(update: ArrayLike<number>, p: DdgSiteParams, opts?: { random?: RandomSource; out?: Uint32Array }): DdgEncoded {
  const { scaledClip, scaledStddev } = checkSite(p);
  const seed = p.rotationSeed ?? null;
  const length = encodedLength(update.length, seed !== null);
  const bound = roundedL2Bound(scaledClip, p.beta, length);
  const boundSquared = bound * bound;
  if (!(boundSquared < MAX_SQUARED_NORM)) throw invalidParameter(`granularity ${p.granularity} is too fine for clip ${p.clip}: the scaled norm bound ${bound.toExponential(3)} exceeds 2^25`);
  const out = opts?.out ?? new Uint32Array(length);
  if (out.length !== length) throw invalidParameter(`the output has ${out.length} elements, ${length} needed`);
  const random = opts?.random ?? new CryptoRandom();

  let sq = 0;
  for (let i = 0; i < update.length; i++) {
    const v = update[i]!;
    if (!Number.isFinite(v)) throw invalidParameter(`the update has a non-finite value at ${i}`);
    sq += v * v;
  }
  const norm = Math.sqrt(sq);
  const clipped = norm > p.clip;
  const factor = clipped ? p.clip / norm : 1;
  let x: Float64Array;
  if (seed) {
    const scaled = new Float64Array(update.length);
    for (let i = 0; i < update.length; i++) scaled[i] = update[i]! * factor;
    x = rotate(scaled, seed);
    for (let i = 0; i < length; i++) x[i] = x[i]! / p.granularity;
  } else {
    x = new Float64Array(length);
    for (let i = 0; i < length; i++) x[i] = (update[i]! * factor) / p.granularity;
  }

  const { rounded, attempts } = conditionalRound(x, boundSquared, random);
  const noise = new Float64Array(length);
  fillDiscreteGaussian(noise, scaledStddev, random);
  for (let i = 0; i < length; i++) out[i] = (rounded[i]! + noise[i]!) >>> 0;
  return { values: out, clipped, norm, attempts };
}

/**
 * The coordinator's side: the modular sum of the sites' values back to update units (the sum of
 * the clipped updates plus the sum of the noise), `dim` long. Correct when assertNoWrap held.
 */
export function decodeSum(sum: Uint32Array, p: { granularity: number; dim: number; rotationSeed?: Uint8Array | null }): Float64Array {
  const granularity = positive('granularity', p.granularity);
  const seed = p.rotationSeed ?? null;
  const length = encodedLength(p.dim, seed !== null);
  if (sum.length !== length) throw invalidParameter(`the sum has ${sum.length} elements, ${length} expected`);
  const lifted = new Float64Array(length);
  for (let i = 0; i < length; i++) lifted[i] = (sum[i]! | 0) * granularity;
  return seed ? unrotate(lifted, seed, p.dim) : lifted;
}

// ---------------------------------------------------------------------------------------------
// Modular wrap

export interface WrapParams {
  mechanism?: DistributedMechanism;
  clip: number;
  localStddev: number;
  granularity: number;
  beta: number;
  /** The integer vector's length (encodedLength). */
  dim: number;
  /** The most sites whose values can enter one sum (the round's planned sites, not its survivors). */
  sites: number;
  wrapProbability?: number;
}

/** z with P[|noise of one coordinate's sum| ≥ z] ≤ p, from the Chernoff bounds in the header. */
function noiseTail(mechanism: DistributedMechanism, sites: number, scaledStddev: number, p: number): number {
  const variance = sites * scaledStddev * scaledStddev;
  if (mechanism === 'ddg') return Math.sqrt(2 * variance * Math.log(2 / p));
  // Skellam(μ): P[X ≥ z] ≤ exp(μ(√(1 + (z/μ)²) − 1) − z·asinh(z/μ)), decreasing in z: bisect.
  const logTail = (z: number) => Math.log(2) + variance * (Math.sqrt(1 + (z / variance) ** 2) - 1) - z * Math.asinh(z / variance);
  let lo = 0;
  let hi = Math.sqrt(variance) + 1;
  while (logTail(hi) > Math.log(p)) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (logTail(mid) > Math.log(p)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The smallest b such that the sum of `sites` sites' values lies in [−2^(b−1), 2^(b−1)) but with probability ≤ wrapProbability. */
export function requiredSumBits(p: WrapParams): number {
  const mechanism = p.mechanism ?? 'ddg';
  const granularity = positive('granularity', p.granularity);
  const scaledClip = positive('clip', p.clip) / granularity;
  const scaledStddev = positive('localStddev', p.localStddev) / granularity;
  const sites = positiveInteger('sites', p.sites);
  const dim = positiveInteger('dim', p.dim);
  const wrap = p.wrapProbability ?? DEFAULT_WRAP_PROBABILITY;
  if (!(wrap > 0 && wrap < 1)) throw invalidParameter(`wrapProbability must be in (0, 1), got ${String(wrap)}`);
  const signal = sites * Math.floor(roundedL2Bound(scaledClip, p.beta, dim));
  const extent = signal + Math.ceil(noiseTail(mechanism, sites, scaledStddev, wrap / dim));
  // |sum| ≤ extent fits in [−2^(b−1), 2^(b−1)) iff extent ≤ 2^(b−1) − 1.
  let bits = 1;
  while (2 ** (bits - 1) - 1 < extent) bits++;
  return bits;
}

/** Throws unless the sum of `sites` sites fits in `bits` bits (default the 32-bit ring) as required. */
export function assertNoWrap(p: WrapParams, bits = SUM_BITS): void {
  const need = requiredSumBits(p);
  if (need > bits) {
    throw invalidParameter(
      `the sum of ${p.sites} sites needs ${need} bits at granularity ${p.granularity} (clip ${p.clip}, local stddev ${p.localStddev}, ` +
        `dim ${p.dim}) but the ring has ${bits}: coarsen the granularity or lower the site count`,
    );
  }
}

/**
 * A granularity for the round: the finest that fits `bits` bits (assertNoWrap) while keeping the
 * scaled noise std at most maxScaledStddev (the exact sampler's fast range; a finer grid buys
 * almost nothing once σ/γ is in the hundreds: rounding adds d/4 to Δ₂² against (C/γ)²).
 */
export function chooseGranularity(p: Omit<WrapParams, 'granularity'> & { bits?: number; maxScaledStddev?: number }): number {
  const bits = p.bits ?? SUM_BITS;
  const stddev = positive('localStddev', p.localStddev);
  const maxScaled = p.maxScaledStddev ?? DEFAULT_MAX_SCALED_STDDEV;
  positive('maxScaledStddev', maxScaled);
  const fits = (g: number) => requiredSumBits({ ...p, granularity: g }) <= bits;
  let g = stddev / Math.max(0.5, maxScaled);
  if (!fits(g)) {
    // Coarser grids shrink every term of the bound: bisect on log γ up to σ/γ = 1/2.
    let lo = g;
    let hi = 2 * stddev;
    if (!fits(hi)) throw invalidParameter(`no granularity fits ${p.sites} sites in ${bits} bits with local stddev ${stddev} (σ/γ ≥ 1/2 needed)`);
    while (hi / lo > 1 + 1e-9) {
      const mid = Math.sqrt(lo * hi);
      if (fits(mid)) hi = mid;
      else lo = mid;
    }
    g = hi;
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// Accounting

/** One or more identical rounds of a distributed discrete mechanism, as the ledger records them. */
export interface DistributedDiscreteEvent {
  mechanism: DistributedMechanism;
  /** C, update units. */
  clip: number;
  /** Each site's noise std, update units. */
  localStddev: number;
  /** Sites whose noise is in the sum (a round's survivors). */
  clients: number;
  /** The integer vector's length (padded when rotated). */
  dim: number;
  /** γ, update units. */
  granularity: number;
  beta: number;
  /** Poisson sampling rate of the sites, (0, 1]. */
  sampleRate: number;
  count: number;
}

function eventError(index: number, message: string): never {
  throw new DpError('DP_INVALID_EVENT', `event[${index}]: ${message}`);
}

/** Checks an untrusted event (a parsed ledger entry, CLI flags) and returns a normalised copy. */
export function validateDistributedDiscreteEvent(raw: unknown, index = 0): DistributedDiscreteEvent {
  if (typeof raw !== 'object' || raw === null) eventError(index, 'must be an object');
  const e = raw as Record<string, unknown>;
  const mechanism = e['mechanism'];
  if (mechanism !== 'ddg' && mechanism !== 'skellam') eventError(index, `mechanism must be 'ddg' or 'skellam', got ${String(mechanism)}`);
  const num = (name: string, ok: (v: number) => boolean, what: string): number => {
    const v = e[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) eventError(index, `${name} must be ${what}, got ${String(v)}`);
    return v;
  };
  const out: DistributedDiscreteEvent = {
    mechanism,
    clip: num('clip', (v) => v > 0, 'a positive number'),
    localStddev: num('localStddev', (v) => v > 0, 'a positive number'),
    clients: num('clients', (v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'),
    dim: num('dim', (v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'),
    granularity: num('granularity', (v) => v > 0, 'a positive number'),
    beta: num('beta', (v) => v >= 0 && v < 1, 'in [0, 1)'),
    sampleRate: num('sampleRate', (v) => v > 0 && v <= 1, 'in (0, 1]'),
    count: num('count', (v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'),
  };
  if (mechanism === 'ddg' && out.localStddev / out.granularity < 0.5) eventError(index, 'localStddev/granularity must be at least 1/2 for the discrete Gaussian');
  return out;
}

/** τ of the paper's Thm 1: how far the sum of n discrete Gaussians of variance σ² is from N_Z(0, nσ²). */
export function ddgTau(clients: number, scaledStddev: number): number {
  let tau = 0;
  const s2 = scaledStddev * scaledStddev;
  for (let k = 1; k < clients; k++) {
    const term = Math.exp(-2 * Math.PI * Math.PI * s2 * (k / (k + 1)));
    tau += term;
    // Terms shrink with k (towards exp(−2π²σ²)): once one underflows, so do the rest.
    if (term === 0) break;
  }
  return 10 * tau;
}

/** Per-round RDP at integer order α ≥ 2, unsampled (the function the subsampling bound is built on). */
function perRoundRdp(e: DistributedDiscreteEvent): (alpha: number) => number {
  const scaledClip = e.clip / e.granularity;
  const sigma = e.localStddev / e.granularity;
  const l2 = roundedL2Bound(scaledClip, e.beta, e.dim);
  const l1 = l2 * Math.min(Math.sqrt(e.dim), l2);
  const d = e.dim;
  if (e.mechanism === 'ddg') {
    const tau = ddgTau(e.clients, sigma);
    const sd = Math.sqrt(e.clients) * sigma;
    const s2 = l2 / sd;
    const s1 = l1 / sd;
    return (a) => Math.min(
      (a / 2) * s2 * s2 + tau * d,
      (a / 2) * (s2 * s2 + 2 * s1 * tau + tau * tau * d),
      (a / 2) * (s2 + Math.sqrt(d) * tau) ** 2,
    );
  }
  const mu = e.clients * sigma * sigma;
  return (a) => (a * l2 * l2) / (2 * mu) + Math.min(((2 * a - 1) * l2 * l2 + 6 * l1) / (4 * mu * mu), (3 * l1) / (2 * mu));
}

const LOG_FACT: number[] = [0];
function logFactorial(n: number): number {
  for (let i = LOG_FACT.length; i <= n; i++) LOG_FACT.push(LOG_FACT[i - 1]! + Math.log(i));
  return LOG_FACT[n]!;
}
function logBinomial(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/**
 * Zhu & Wang (ICML 2019) Thm 5: RDP at integer α of a mechanism with RDP ε(·) under Poisson
 * subsampling at rate q < 1:
 *   (1/(α−1))·log( (1−q)^(α−1)(αq − q + 1) + C(α,2)q²(1−q)^(α−2)e^{ε(2)} + 3Σ_{l=3}^{α} C(α,l)(1−q)^(α−l)q^l e^{(l−1)ε(l)} ).
 */
function subsampledRdp(alpha: number, q: number, eps: (l: number) => number): number {
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  const terms: number[] = [(alpha - 1) * l1q + Math.log1p((alpha - 1) * q), logBinomial(alpha, 2) + 2 * lq + (alpha - 2) * l1q + eps(2)];
  for (let l = 3; l <= alpha; l++) terms.push(Math.log(3) + logBinomial(alpha, l) + (alpha - l) * l1q + l * lq + (l - 1) * eps(l));
  let max = -Infinity;
  for (const t of terms) if (t > max) max = t;
  if (max === Infinity) return Infinity;
  let s = 0;
  for (const t of terms) s += Math.exp(t - max);
  return (max + Math.log(s)) / (alpha - 1);
}

/** RDP of an event (count rounds) at each order; fractional orders take ⌈α⌉ (RDP is non-decreasing in α). */
export function distributedDiscreteRdp(event: DistributedDiscreteEvent, orders: ArrayLike<number> = DEFAULT_ORDERS): Float64Array {
  const e = validateDistributedDiscreteEvent(event);
  const eps = perRoundRdp(e);
  const cache = new Map<number, number>();
  const epsAt = (l: number) => {
    let v = cache.get(l);
    if (v === undefined) cache.set(l, (v = eps(l)));
    return v;
  };
  const out = new Float64Array(orders.length);
  for (let i = 0; i < orders.length; i++) {
    const order = orders[i]!;
    if (!(order > 1) || !Number.isFinite(order)) throw invalidParameter(`RDP orders must be finite and > 1, got ${order}`);
    const a = Math.max(2, Math.ceil(order));
    const plain = epsAt(a);
    const perRound = e.sampleRate === 1 ? plain : Math.min(plain, subsampledRdp(a, e.sampleRate, epsAt));
    out[i] = perRound * e.count;
  }
  return out;
}

/**
 * ε at δ of distributed discrete rounds, composed (RDP adds per order) with any Gaussian events of
 * the same ledger. Orders: DEFAULT_ORDERS unless given.
 */
export function distributedDiscreteEpsilon(
  events: readonly DistributedDiscreteEvent[],
  delta: number,
  opts?: { gaussian?: readonly GaussianEvent[]; orders?: ArrayLike<number> },
): { epsilon: number; order: number } {
  assertDelta(delta);
  const orders = opts?.orders ?? DEFAULT_ORDERS;
  const total = opts?.gaussian && opts.gaussian.length > 0 ? composeRdp(opts.gaussian, orders) : new Float64Array(orders.length);
  // A ledger repeats the same round parameters: one curve per distinct event, times its count
  // (RDP composes by addition, so the multiset of events is all that matters).
  const distinct = new Map<string, DistributedDiscreteEvent>();
  events.forEach((raw, i) => {
    const e = validateDistributedDiscreteEvent(raw, i);
    const key = [e.mechanism, e.clip, e.localStddev, e.clients, e.dim, e.granularity, e.beta, e.sampleRate].join('|');
    const seen = distinct.get(key);
    if (seen) seen.count += e.count;
    else distinct.set(key, e);
  });
  for (const e of distinct.values()) {
    const curve = distributedDiscreteRdp(e, orders);
    for (let j = 0; j < total.length; j++) total[j] = total[j]! + curve[j]!;
  }
  return epsilonFromRdp(orders, total, delta);
}
