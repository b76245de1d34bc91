/**
 * The operator's view of a federation's sites (`conclave participant list`): enrollment state,
 * when each was last heard from, the rounds it contributed to, and its privacy spend, which comes
 * from the ledger's report alone (the ledger is the only consumer of DP events).
 */
import type { GetLedgerResponseMsg, ListSitesResponseMsg } from '../protocols/index.ts';
import type { Store } from './store.ts';

/**
 * When each site last called the participant service, in memory only (a call per poll is too
 * often to write); after a restart the last accepted submission, which is stored, stands in.
 */
const lastCalls = new WeakMap<Store, Map<string, number>>();

export function recordSiteCall(store: Store, siteId: string, nowMs: number): void {
  let calls = lastCalls.get(store);
  if (!calls) lastCalls.set(store, (calls = new Map()));
  calls.set(siteId, nowMs);
}

interface SiteRow { id: string; name: string; enrolled_ms: number; revoked_ms: number | null }
interface SubmissionRow { site_id: string; committed: number; last_ms: number }

export function siteReport(store: Store, ledger: GetLedgerResponseMsg): ListSitesResponseMsg {
  const federationId = ledger.federationId;
  const sites = store.db.prepare('SELECT id, name, enrolled_ms, revoked_ms FROM sites WHERE federation_id = ? ORDER BY enrolled_ms, name').all(federationId) as unknown as SiteRow[];
  const submissions = new Map((store.db.prepare(`SELECT s.site_id, SUM(r.state = 'committed') AS committed, MAX(s.received_ms) AS last_ms
    FROM submissions s JOIN rounds r ON r.id = s.round_id WHERE r.federation_id = ? GROUP BY s.site_id`).all(federationId) as unknown as SubmissionRow[])
    .map((row) => [row.site_id, row]));
  const privacy = new Map(ledger.participants.map((p) => [p.siteId, p]));
  const calls = lastCalls.get(store);
  return {
    federationId, delta: ledger.delta,
    sites: sites.map((site) => {
      const p = privacy.get(site.id);
      const epsilon = p?.epsilon ?? { epsilon: 0, accountant: 'rdp', rdpEpsilon: 0, pldEpsilon: -1, budgetEpsilon: 0 };
      const submitted = submissions.get(site.id);
      return {
        siteId: site.id, name: site.name, state: site.revoked_ms === null ? 'enrolled' : 'revoked',
        enrolledUnixMs: site.enrolled_ms, revokedUnixMs: site.revoked_ms ?? 0,
        lastSeenUnixMs: Math.max(calls?.get(site.id) ?? 0, submitted?.last_ms ?? 0),
        roundsParticipated: submitted?.committed ?? 0,
        epsilon,
        budgetLeft: epsilon.budgetEpsilon > 0 ? Math.max(0, epsilon.budgetEpsilon - epsilon.epsilon) : -1,
        roundsEligible: p?.roundsEligible ?? 0,
        sampleRate: p?.sampleRate ?? 0,
      };
    }),
  };
}
