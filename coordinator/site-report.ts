/**
 * The operator's view of a federation's sites (`conclave participant list`): enrollment state,
 * when each was last heard from, the rounds it contributed to, and its privacy spend, which comes
 * from the ledger's report alone (the ledger is the only consumer of DP events).
 */
import type { GetLedgerResponseMsg, ListSitesResponseMsg } from '../protocols/index.ts';
import type { Store } from './store.ts';

interface SiteRow { id: string; name: string; enrolled_ms: number; revoked_ms: number | null }
interface SubmissionRow { site_id: string; committed: number; last_ms: number }

/**
 * `lastSeen`: when the site last polled for a task, which the scheduler keeps in memory (a poll is
 * too frequent to write); after a restart the site's last stored submission stands in.
 */
export function siteReport(store: Store, ledger: GetLedgerResponseMsg, lastSeen: (siteId: string) => number | undefined): ListSitesResponseMsg {
  const federationId = ledger.federationId;
  store.flush();
  const sites = store.db.prepare('SELECT id, name, enrolled_ms, revoked_ms FROM sites WHERE federation_id = ? ORDER BY enrolled_ms, name').all(federationId) as unknown as SiteRow[];
  const submissions = new Map((store.db.prepare(`SELECT s.site_id, SUM(r.state = 'committed') AS committed, MAX(s.received_ms) AS last_ms
    FROM submissions s JOIN rounds r ON r.id = s.round_id WHERE r.federation_id = ? GROUP BY s.site_id`).all(federationId) as unknown as SubmissionRow[])
    .map((row) => [row.site_id, row]));
  const privacy = new Map(ledger.participants.map((p) => [p.siteId, p]));
  return {
    federationId, delta: ledger.delta,
    sites: sites.map((site) => {
      const p = privacy.get(site.id);
      const epsilon = p?.epsilon ?? { epsilon: 0, accountant: 'rdp', rdpEpsilon: 0, pldEpsilon: -1, budgetEpsilon: 0 };
      const submitted = submissions.get(site.id);
      return {
        siteId: site.id, name: site.name, state: site.revoked_ms === null ? 'enrolled' : 'revoked',
        enrolledUnixMs: site.enrolled_ms, revokedUnixMs: site.revoked_ms ?? 0,
        lastSeenUnixMs: Math.max(lastSeen(site.id) ?? 0, submitted?.last_ms ?? 0),
        roundsParticipated: submitted?.committed ?? 0,
        epsilon,
        budgetLeft: epsilon.budgetEpsilon > 0 ? Math.max(0, epsilon.budgetEpsilon - epsilon.epsilon) : -1,
        roundsEligible: p?.roundsEligible ?? 0,
        sampleRate: p?.sampleRate ?? 0,
      };
    }),
  };
}
