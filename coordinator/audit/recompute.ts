/**
 * ε recomputed from the ledger's recorded events alone, with both accountants, and compared with
 * what each entry claims (`epsilonAfter`). A claim below the recomputation is an under-report —
 * whether the entry was edited or the code that wrote it was wrong — and names the entry. A claim
 * above it is allowed: both accountants are upper bounds and may have been tightened since.
 */
import { computeEpsilon } from '../../crypto/dp/index.ts';
import { distributedDiscreteEpsilon } from '../../crypto/dp/ddg.ts';
import { PrivacyLedger, gaussianEvents, isDiscreteEvent, type LedgerEvent, type LedgerPayload } from '../privacy/ledger.ts';

export interface RecomputedEntry {
  seq: number;
  roundNumber: number;
  claimed: number;
  rdp: number;
  pld: number | null;
  /** The tighter of the two recomputations. */
  epsilon: number;
  underReported: boolean;
  /** The recorded events cannot be accounted at all (a parameter out of range): the entry is bad. */
  invalid?: string;
}

export interface Recomputation {
  entries: RecomputedEntry[];
  /** The first entry whose claim is below what its events give, if any. */
  firstBad: RecomputedEntry | null;
  /** Entries between checkpoints are not recomputed on very long ledgers; the last one always is. */
  checkedEvery: number;
}

/** Long ledgers are checked at evenly spaced entries (and the last): each check composes the whole prefix. */
const MAX_CHECKS = 400;

function bothAccountants(all: LedgerEvent[], delta: number): { rdp: number; pld: number | null; epsilon: number } {
  if (all.some(isDiscreteEvent)) {
    // Distributed discrete rounds have an RDP bound only: the whole history is composed in RDP.
    const gaussian = gaussianEvents(all);
    const rdp = distributedDiscreteEpsilon(all.filter(isDiscreteEvent), delta, { gaussian }).epsilon;
    return { rdp, pld: null, epsilon: rdp };
  }
  const events = gaussianEvents(all);
  const rdp = computeEpsilon(events, delta, 'rdp').epsilon;
  let pld: number | null = null;
  try {
    pld = computeEpsilon(events, delta, 'pld').epsilon;
  } catch {
    // PLD cannot represent some losses (tiny σ); RDP alone then bounds ε.
    pld = null;
  }
  return { rdp, pld, epsilon: pld === null ? rdp : Math.min(rdp, pld) };
}

export function recomputeLedger(payloads: LedgerPayload[]): Recomputation {
  const every = Math.max(1, Math.ceil(payloads.length / MAX_CHECKS));
  const entries: RecomputedEntry[] = [];
  let firstBad: RecomputedEntry | null = null;
  payloads.forEach((p, i) => {
    if ((i + 1) % every !== 0 && i !== payloads.length - 1) return;
    const claimed = p.epsilonAfter?.epsilon;
    let entry: RecomputedEntry;
    try {
      const events = PrivacyLedger.federationEvents(payloads.slice(0, i + 1));
      const r = bothAccountants(events, p.delta);
      entry = { seq: p.seq, roundNumber: p.roundNumber, claimed, ...r, underReported: !(claimed >= r.epsilon * (1 - 1e-9) - 1e-12) };
    } catch (err) {
      // An entry whose events no accountant accepts (edited to σ = 0 or q = 0, say) proves nothing: it
      // is reported as a bad entry, not as a usage error of the auditor's command.
      entry = { seq: p.seq, roundNumber: p.roundNumber, claimed, rdp: NaN, pld: null, epsilon: NaN, underReported: true, invalid: err instanceof Error ? err.message : String(err) };
    }
    if (entry.underReported && !firstBad) firstBad = entry;
    entries.push(entry);
  });
  return { entries, firstBad, checkedEvery: every };
}

/** Each participant's ε after every entry that charged it, from the entries alone (identical histories share one computation). */
export function participantSeries(payloads: LedgerPayload[]): Map<string, Array<{ roundNumber: number; epsilon: number }>> {
  const series = new Map<string, Array<{ roundNumber: number; epsilon: number }>>();
  const cache = new Map<string, number>();
  const sites = new Set(payloads.flatMap((p) => p.eligible.map((e) => e.siteId)));
  for (const site of sites) {
    const points: Array<{ roundNumber: number; epsilon: number }> = [];
    payloads.forEach((p, i) => {
      if (!p.eligible.some((e) => e.siteId === site)) return;
      const events = PrivacyLedger.participantEvents(payloads.slice(0, i + 1), site);
      const key = `${p.delta}|${events.map((e) => JSON.stringify(e)).join(';')}`;
      let eps = cache.get(key);
      if (eps === undefined) {
        try {
          // Past a few hundred distinct histories PLD's cost dominates; RDP alone is still an upper bound.
          eps = cache.size < 200 || events.some(isDiscreteEvent) ? bothAccountants(events, p.delta).epsilon
            : computeEpsilon(gaussianEvents(events), p.delta, 'rdp').epsilon;
        } catch {
          // Events no accountant accepts: recomputeLedger names the entry; the series has no point for it.
          return;
        }
        cache.set(key, eps);
      }
      points.push({ roundNumber: p.roundNumber, epsilon: eps });
    });
    series.set(site, points);
  }
  return series;
}
