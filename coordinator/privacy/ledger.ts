import { ConclaveError } from '../../protocols/index.ts';
import { GENESIS_HASH, signEntry, verifyChain, type ChainProblem } from '../../crypto/ledger-signing.ts';
import type { SigningKeys } from '../../crypto/tokens.ts';
import { RdpAccountant, filterAdmits, rdpBudgetCurve, rdpVector, tightestEpsilon, type GaussianEvent } from '../../crypto/dp/index.ts';
import type { Store } from '../store.ts';

/** The one record of privacy spent: everything an auditor needs to recompute ε, and nothing about who was sampled. */
export interface DpEvent {
  mechanism: 'gaussian';
  mode: 'central' | 'distributed' | 'local';
  /** The noise multiplier the release actually carried: what the accountants compose. */
  noiseMultiplier: number;
  configuredNoiseMultiplier: number;
  clipNorm: number;
  sampling: 'poisson';
  /** The largest sampling rate among eligible sites: the federation-level worst case. */
  sampleRate: number;
  expectedSites: number;
  survivingSites: number;
  adaptiveClip: { countNoiseStd: number; targetQuantile: number; noisedUnclippedFraction: number; nextClipNorm: number } | null;
}

export interface LedgerPayload {
  format: 'conclave-ledger/1';
  federationId: string;
  seq: number;
  prevHash: string;
  roundId: string;
  roundNumber: number;
  modelVersion: number;
  createdMs: number;
  delta: number;
  event: DpEvent;
  /** Sites in the eligible population and the rate each was sampled at (per-participant accounting). */
  eligible: Array<{ siteId: string; sampleRate: number }>;
  /** Federation-level ε including this entry, by the tighter accountant. */
  epsilonAfter: EpsilonSummary;
}

export interface EpsilonSummary {
  epsilon: number;
  accountant: 'rdp' | 'pld';
  rdp: number;
  pld: number | null;
}

export interface StoredEntry {
  seq: number;
  roundId: string;
  payload: string;
  hash: string;
  jws: string;
}

export interface Candidate {
  siteId: string;
  sampleRate: number;
  budgetEpsilon: number | null;
}

/**
 * Per-federation, append-only, hash-chained and signed privacy ledger; the only consumer of DP
 * events and the only place ε is computed from them (through crypto/dp's accountants).
 */
export class PrivacyLedger {
  private readonly store: Store;
  private readonly keys: SigningKeys;
  private readonly epsilonCache = new Map<string, EpsilonSummary>();

  constructor(store: Store, keys: SigningKeys) {
    this.store = store;
    this.keys = keys;
  }

  entries(federationId: string): StoredEntry[] {
    const rows = this.store.db.prepare('SELECT seq, round_id, payload_json, hash, jws FROM ledger_entries WHERE federation_id = ? ORDER BY seq')
      .all(federationId) as Array<{ seq: number; round_id: string; payload_json: string; hash: string; jws: string }>;
    return rows.map((r) => ({ seq: r.seq, roundId: r.round_id, payload: r.payload_json, hash: r.hash, jws: r.jws }));
  }

  payloads(federationId: string): LedgerPayload[] {
    return this.entries(federationId).map((e) => JSON.parse(e.payload) as LedgerPayload);
  }

  /** Federation-level events: every round, at the largest sampling rate in its eligible population. */
  static federationEvents(payloads: LedgerPayload[], extra?: GaussianEvent): GaussianEvent[] {
    const events = payloads.map((p) => ({ noiseMultiplier: p.event.noiseMultiplier, sampleRate: p.event.sampleRate, count: 1 }));
    return extra ? [...events, extra] : events;
  }

  /** A participant's events: only the rounds where it was eligible, at its own sampling rate. */
  static participantEvents(payloads: LedgerPayload[], siteId: string): GaussianEvent[] {
    const events: GaussianEvent[] = [];
    for (const p of payloads) {
      const membership = p.eligible.find((e) => e.siteId === siteId);
      if (membership) events.push({ noiseMultiplier: p.event.noiseMultiplier, sampleRate: membership.sampleRate, count: 1 });
    }
    return events;
  }

  epsilon(events: GaussianEvent[], delta: number): EpsilonSummary {
    if (events.length === 0) return { epsilon: 0, accountant: 'rdp', rdp: 0, pld: 0 };
    const key = `${delta}|${events.map((e) => `${e.noiseMultiplier},${e.sampleRate},${e.count}`).join(';')}`;
    let cached = this.epsilonCache.get(key);
    if (!cached) {
      const result = tightestEpsilon(groupConsecutive(events), delta);
      cached = { epsilon: result.epsilon, accountant: result.accountant, rdp: result.rdp, pld: result.pld };
      if (this.epsilonCache.size > 10_000) this.epsilonCache.clear();
      this.epsilonCache.set(key, cached);
    }
    return cached;
  }

  /**
   * Admission control through a Rényi filter (crypto/dp/filter.ts): a site stays eligible only if a
   * round costing `worstCaseNoiseMultiplier` still fits its budget at some order; the federation's own
   * budget is checked at the largest sampling rate. Throws BUDGET_EXCEEDED when the federation is spent.
   */
  admit(federationId: string, delta: number, federationBudget: number | null, candidates: Candidate[], worstCaseNoiseMultiplier: number): {
    eligible: Candidate[]; excluded: Array<{ siteId: string; reason: string }>;
  } {
    const payloads = this.payloads(federationId);
    // The federation first, at the largest rate any candidate could be sampled with: when it is
    // spent, that is the reason to report, whatever the individual sites have left.
    if (federationBudget !== null && candidates.length > 0) {
      const maxRate = Math.max(...candidates.map((s) => s.sampleRate));
      const spent = rdpSpent(PrivacyLedger.federationEvents(payloads));
      const next = rdpVector({ noiseMultiplier: worstCaseNoiseMultiplier, sampleRate: maxRate, count: 1 });
      if (!filterAdmits(spent, next, rdpBudgetCurve(federationBudget, delta))) {
        if (payloads.length === 0) {
          throw new ConclaveError('BUDGET_EXCEEDED',
            `privacy budget too small: a single round at noise multiplier ${worstCaseNoiseMultiplier.toPrecision(4)} and sampling rate ${maxRate} costs more than ε=${federationBudget} at δ=${delta}; raise the noise multiplier or the budget ("conclave privacy calibrate" finds the noise for a target)`);
        }
        const spentEps = this.epsilon(PrivacyLedger.federationEvents(payloads), delta);
        throw new ConclaveError('BUDGET_EXCEEDED',
          `privacy budget exhausted: ε=${spentEps.epsilon.toFixed(4)} spent (${spentEps.accountant}; rdp ${spentEps.rdp.toFixed(4)}) of ε=${federationBudget} at δ=${delta}, and the Rényi filter admits no further round`);
      }
    }
    const eligible: Candidate[] = [];
    const excluded: Array<{ siteId: string; reason: string }> = [];
    for (const site of candidates) {
      const budget = site.budgetEpsilon ?? federationBudget;
      if (budget === null) {
        eligible.push(site);
        continue;
      }
      const spent = rdpSpent(PrivacyLedger.participantEvents(payloads, site.siteId));
      const next = rdpVector({ noiseMultiplier: worstCaseNoiseMultiplier, sampleRate: site.sampleRate, count: 1 });
      if (filterAdmits(spent, next, rdpBudgetCurve(budget, delta))) eligible.push(site);
      else excluded.push({ siteId: site.siteId, reason: `another round would exceed the site's budget ε=${budget} at δ=${delta}` });
    }
    return { eligible, excluded };
  }

  /** Builds and signs the next entry; insert() then writes it inside the round's commit transaction. */
  async prepare(content: Omit<LedgerPayload, 'format' | 'seq' | 'prevHash' | 'createdMs' | 'epsilonAfter'>): Promise<StoredEntry> {
    const last = this.store.db.prepare('SELECT seq, hash FROM ledger_entries WHERE federation_id = ? ORDER BY seq DESC LIMIT 1')
      .get(content.federationId) as { seq: number; hash: string } | undefined;
    const payloads = this.payloads(content.federationId);
    const epsilonAfter = this.epsilon(
      PrivacyLedger.federationEvents(payloads, { noiseMultiplier: content.event.noiseMultiplier, sampleRate: content.event.sampleRate, count: 1 }),
      content.delta,
    );
    const payload: LedgerPayload = {
      format: 'conclave-ledger/1', ...content, seq: (last?.seq ?? 0) + 1, prevHash: last?.hash ?? GENESIS_HASH, createdMs: Date.now(), epsilonAfter,
    };
    const signed = await signEntry(this.keys.privateKey, this.keys.keyId, JSON.stringify(payload));
    return { seq: payload.seq, roundId: content.roundId, ...signed };
  }

  /** Must run inside the commit transaction; the primary key refuses a second entry with the same seq (no forks). */
  insert(federationId: string, entry: StoredEntry): void {
    this.store.db.prepare('INSERT INTO ledger_entries (federation_id, seq, round_id, payload_json, hash, jws) VALUES (?, ?, ?, ?, ?, ?)')
      .run(federationId, entry.seq, entry.roundId, entry.payload, entry.hash, entry.jws);
  }

  async verify(federationId: string): Promise<ChainProblem[]> {
    return verifyChain(this.keys.publicKey, this.entries(federationId), (payload) => (JSON.parse(payload) as LedgerPayload).prevHash);
  }
}

function rdpSpent(events: GaussianEvent[]): Float64Array {
  const accountant = new RdpAccountant();
  for (const e of events) accountant.compose(e);
  return accountant.rdp;
}

/** Consecutive identical rounds compose as one event with a count: same ε, far less work for PLD. */
function groupConsecutive(events: GaussianEvent[]): GaussianEvent[] {
  const grouped: GaussianEvent[] = [];
  for (const e of events) {
    const last = grouped.at(-1);
    if (last && last.noiseMultiplier === e.noiseMultiplier && last.sampleRate === e.sampleRate) last.count += e.count;
    else grouped.push({ ...e });
  }
  return grouped;
}
