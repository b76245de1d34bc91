/**
 * Choosing k (neighbours) and t (threshold) for the user, after Bell et al. (CCS 2020, §4 and
 * Appendix C), who bound the failure and the leak of the sparse graph the same way:
 * - a round fails when some site keeps fewer than t of its k neighbours to the end. With each site
 *   dropping independently with probability δ, by the union bound over the n sites,
 *   P[fail] ≤ n · P[Bin(k, 1 − δ) < t] (on the full graph, exactly P[Bin(n, 1 − δ) < t + 1]);
 * - a malicious coordinator can ask some honest neighbours of a site for its self-mask shares and
 *   the others for its key shares; colluding neighbours hand over both. With c colluders among the
 *   k neighbours it learns the site's input when 2t ≤ k + c. The c colluders of a site are a
 *   hypergeometric draw from the C declared colluders, so
 *   P[leak] ≤ n · P[Hypergeom(n − 1, C, k) ≥ 2t − k], required ≤ 2^-40 (their σ = 40).
 * The smallest k whose failure bound is ≤ the target wins, with the smallest t that keeps the leak
 * bound; when no sparse graph reaches the target the full graph (k = n − 1) is returned with its
 * bound, which the caller prints.
 */
import { invalidParameter } from './errors.ts';

export const DEFAULT_FAILURE_TARGET = 1e-3;
export const LEAK_TARGET = 2 ** -40;

export interface SecAggParameters {
  n: number;
  k: number;
  t: number;
  /** Union bound on the probability that the round aborts for want of shares. */
  failureProbability: number;
  /** Union bound on the probability that some site's input is exposed to the coordinator and colluders. */
  leakProbability: number;
  /** Whether failureProbability is within the requested target (else this is the best graph there is). */
  meetsTarget: boolean;
}

const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i));
  return logFactorials[n]!;
}
function logChoose(n: number, r: number): number {
  return r < 0 || r > n ? -Infinity : logFactorial(n) - logFactorial(r) - logFactorial(n - r);
}

/** P[Bin(k, p) < t], summed in log space (k ≤ a few thousand). */
export function binomialBelow(k: number, p: number, t: number): number {
  if (p >= 1) return t > k ? 1 : 0;
  if (p <= 0) return t > 0 ? 1 : 0;
  let total = 0;
  for (let x = 0; x < Math.min(t, k + 1); x++) total += Math.exp(logChoose(k, x) + x * Math.log(p) + (k - x) * Math.log1p(-p));
  return Math.min(1, total);
}

/** P[Hypergeom(N, K, draws) ≥ m]. */
export function hypergeometricAtLeast(N: number, K: number, draws: number, m: number): number {
  let total = 0;
  for (let x = Math.max(0, m); x <= Math.min(K, draws); x++) {
    total += Math.exp(logChoose(K, x) + logChoose(N - K, draws - x) - logChoose(N, draws));
  }
  return Math.min(1, total);
}

export function boundsFor(n: number, k: number, t: number, dropoutRate: number, colluders: number): SecAggParameters {
  // On the full graph every site's surviving neighbours are the survivors but itself, so the
  // union bound (which counts the same event n times) gives way to the exact P[|U| − 1 < t].
  const failure = k === n - 1 ? binomialBelow(n, 1 - dropoutRate, t + 1) : n * binomialBelow(k, 1 - dropoutRate, t);
  return {
    n, k, t,
    failureProbability: Math.min(1, failure),
    leakProbability: Math.min(1, n * hypergeometricAtLeast(n - 1, colluders, k, 2 * t - k)),
    meetsTarget: true,
  };
}

export function chooseParameters(opts: { n: number; dropoutRate: number; colluders: number; failureTarget?: number }): SecAggParameters {
  const { n, dropoutRate, colluders } = opts;
  const target = opts.failureTarget ?? DEFAULT_FAILURE_TARGET;
  if (!Number.isInteger(n) || n < 3) throw invalidParameter(`secure aggregation needs at least 3 sites, got ${n}`);
  if (!(dropoutRate >= 0 && dropoutRate < 1)) throw invalidParameter(`the dropout rate must be in [0, 1), got ${dropoutRate}`);
  if (!Number.isInteger(colluders) || colluders < 0 || colluders > n - 2) throw invalidParameter(`colluders must be an integer in [0, ${n - 2}], got ${colluders}`);
  // shamir-secret-sharing supports at most 255 shares.
  const maxK = Math.min(n - 1, 255);
  let best: SecAggParameters | null = null;
  for (let k = 2; k <= maxK; k++) {
    if (k % 2 === 1 && n % 2 === 1) continue;
    let t = Math.floor(k / 2) + 1;
    while (t <= k && boundsFor(n, k, t, dropoutRate, colluders).leakProbability > LEAK_TARGET) t++;
    if (t > k) continue;
    const candidate = boundsFor(n, k, Math.max(t, 2), dropoutRate, colluders);
    if (candidate.failureProbability <= target) return candidate;
    candidate.meetsTarget = false;
    if (!best || candidate.failureProbability < best.failureProbability) best = candidate;
  }
  if (!best) throw invalidParameter(`no k ≤ ${maxK} keeps ${colluders} colluders from learning an input; lower the colluder count`);
  return best;
}
