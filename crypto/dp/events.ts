import { DpError } from './errors.ts';

/**
 * One (possibly repeated) release of a sum of clipped contributions with Gaussian noise of std
 * `noiseMultiplier · clipNorm`, where each contribution is included independently with probability
 * `sampleRate` (Poisson) or as a uniformly random fixed-size subset (`without-replacement`).
 */
export interface GaussianEvent {
  noiseMultiplier: number;
  sampleRate: number;
  count: number;
  sampling?: 'poisson' | 'without-replacement';
}

export type AccountantKind = 'rdp' | 'pld';

function fail(index: number, message: string): never {
  throw new DpError('DP_INVALID_EVENT', `event[${index}]: ${message}`);
}

/** Checks an untrusted value (e.g. a parsed ledger) and returns normalised copies of the events. */
export function validateEvents(events: unknown): GaussianEvent[] {
  if (!Array.isArray(events)) {
    throw new DpError('DP_INVALID_EVENT', `events must be an array, got ${events === null ? 'null' : typeof events}`);
  }
  if (events.length === 0) throw new DpError('DP_INVALID_EVENT', 'events must be a non-empty array');
  return events.map((raw: unknown, i) => validateEvent(raw, i));
}

export function validateEvent(raw: unknown, index = 0): GaussianEvent {
  if (typeof raw !== 'object' || raw === null) fail(index, 'must be an object');
  const e = raw as Record<string, unknown>;
  const sigma = e['noiseMultiplier'];
  const q = e['sampleRate'];
  const count = e['count'];
  const sampling = e['sampling'];
  if (typeof sigma !== 'number' || Number.isNaN(sigma) || sigma < 0) {
    fail(index, `noiseMultiplier must be a non-negative number, got ${String(sigma)}`);
  }
  if (sigma === Infinity) fail(index, 'noiseMultiplier must be finite');
  if (typeof q !== 'number' || Number.isNaN(q) || !(q > 0 && q <= 1)) {
    fail(index, `sampleRate must be in (0, 1], got ${String(q)}`);
  }
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    fail(index, `count must be a positive integer, got ${String(count)}`);
  }
  if (sampling !== undefined && sampling !== 'poisson' && sampling !== 'without-replacement') {
    fail(index, `sampling must be 'poisson' or 'without-replacement', got ${String(sampling)}`);
  }
  const out: GaussianEvent = { noiseMultiplier: sigma, sampleRate: q, count };
  if (sampling !== undefined) out.sampling = sampling;
  return out;
}

export function samplingOf(e: GaussianEvent): 'poisson' | 'without-replacement' {
  return e.sampling ?? 'poisson';
}

/**
 * True when σ = 0 or σ is so small (below ~5.3e-155) that the per-round privacy loss 1/(2σ²) overflows
 * float64. The mechanism then has no finite ε for any δ below the sampling rate (the true ε exceeds the
 * largest float64), and the accountants report ε = +∞ instead of computing with overflowed numbers —
 * which used to come out as 0 (PLD) or NaN (RDP). Larger σ, however small, is accounted normally.
 */
export function isUnboundedNoise(noiseMultiplier: number): boolean {
  return !(1 / (2 * noiseMultiplier * noiseMultiplier) < Infinity);
}

/**
 * Merges events with identical mechanism parameters into one event with the summed count.
 * Composition is commutative (the accountants below only add RDP curves / convolve PLDs), so the
 * multiset of events is all that matters; order is preserved by first appearance.
 */
export function groupEvents(events: readonly GaussianEvent[]): GaussianEvent[] {
  // Nested maps keyed by the numbers themselves: no number→string conversion on 10⁴ events.
  const bySampling = new Map<string, Map<number, Map<number, GaussianEvent>>>();
  const out: GaussianEvent[] = [];
  for (const e of events) {
    const sampling = samplingOf(e);
    let bySigma = bySampling.get(sampling);
    if (!bySigma) bySampling.set(sampling, (bySigma = new Map()));
    let byQ = bySigma.get(e.noiseMultiplier);
    if (!byQ) bySigma.set(e.noiseMultiplier, (byQ = new Map()));
    const prev = byQ.get(e.sampleRate);
    if (prev) prev.count += e.count;
    else {
      const g: GaussianEvent = { noiseMultiplier: e.noiseMultiplier, sampleRate: e.sampleRate, count: e.count, sampling };
      byQ.set(e.sampleRate, g);
      out.push(g);
    }
  }
  return out;
}

/**
 * Pessimistic bucketing for speed when parameters vary continuously (the PLD accountant above 256 distinct
 * events; RDP interpolates instead, rdp-compose.ts): σ is rounded down and q up onto a geometric grid
 * (relative step 1e-3, doubled until at most `maxDistinct` distinct events remain).
 * ε of the subsampled Gaussian is non-increasing in σ and non-decreasing in q, so the bucketed
 * composition dominates the original; with ≤ maxDistinct distinct events nothing is changed.
 */
export function bucketEvents(events: readonly GaussianEvent[], maxDistinct: number): GaussianEvent[] {
  const grouped = groupEvents(events);
  if (grouped.length <= maxDistinct) return grouped;
  // Only Poisson and without-replacement events are bucketed separately; work on numeric keys for speed.
  const n = grouped.length;
  const logS = new Float64Array(n);
  const logQ = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    logS[i] = Math.log(grouped[i]!.noiseMultiplier);
    logQ[i] = Math.log(grouped[i]!.sampleRate);
  }
  for (let rel = 1e-3; ; rel *= 2) {
    const r = Math.log1p(rel);
    const keys = new Set<number>();
    for (let i = 0; i < n; i++) {
      const ks = Math.floor(logS[i]! / r);
      const kq = Math.ceil(logQ[i]! / r);
      const w = grouped[i]!.sampling === 'without-replacement' ? 1 : 0;
      keys.add((ks * 1_000_003 + kq) * 2 + w);
    }
    if (keys.size <= maxDistinct || rel > 1) {
      return groupEvents(
        grouped.map((e, i) => ({
          ...e,
          noiseMultiplier: e.noiseMultiplier === 0 ? 0 : Math.exp(Math.floor(logS[i]! / r) * r),
          sampleRate: Math.min(1, Math.exp(Math.ceil(logQ[i]! / r) * r)),
        })),
      );
    }
  }
}
