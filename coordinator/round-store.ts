/**
 * The round's SQL: every transition of a round is written here before it takes effect, so a
 * restart can always tell how far a round got. Nothing here decides anything.
 */
import type { Store } from './store.ts';
import type { RoundPrivacy } from './round-privacy.ts';

export type RoundState = 'open' | 'collecting' | 'committed' | 'aborted';

export interface RoundRecord {
  id: string;
  federationId: string;
  number: number;
  state: RoundState;
  /** The protocol stage the round is in (or ended in); null before the first stage opens. */
  stage: string | null;
  baseVersion: number;
  resultVersion: number | null;
  selectedSites: string[];
  /** Sites whose first-stage message was accepted. */
  submittedSites: string[];
  seed: number;
  openedMs: number;
  deadlineMs: number;
  closedMs: number | null;
  abortReason: string | null;
  totalExamples: number;
  privacy: RoundPrivacy | null;
  /** What the coordinator's update bounds did to this round's updates (none before the round opens). */
  bounds?: BoundedUpdates;
}

/** Updates scaled down to the norm bound, example counts cut to the site's cap, updates refused. */
export interface BoundedUpdates {
  clipped: number;
  capped: number;
  refused: number;
}

/** One stage of one round as it ended: who was in it, who answered, who dropped out. */
export interface StageLog {
  roundId: string;
  stage: string;
  startedMs: number;
  endedMs: number | null;
  live: string[];
  answered: string[];
  dropped: string[];
}

interface RoundRow {
  id: string; federation_id: string; number: number; state: RoundState; stage: string | null; base_version: number; result_version: number | null;
  selected_json: string; seed: number; opened_ms: number; deadline_ms: number; closed_ms: number | null; abort_reason: string | null;
  total_examples: number; privacy_json: string | null; bounds_json?: string | null;
}

export class RoundStore {
  readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  nextNumber(federationId: string): number {
    return (this.store.db.prepare('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM rounds WHERE federation_id = ?').get(federationId) as { n: number }).n;
  }

  insert(record: RoundRecord): void {
    this.store.db.prepare(`INSERT INTO rounds (id, federation_id, number, state, stage, base_version, selected_json, seed, opened_ms, deadline_ms, privacy_json, closed_ms, abort_reason)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(record.id, record.federationId, record.number, record.state, record.stage, record.baseVersion,
      JSON.stringify(record.selectedSites), record.seed, record.openedMs, record.deadlineMs, record.privacy ? JSON.stringify(record.privacy) : null,
      record.closedMs, record.abortReason);
  }

  setState(record: RoundRecord, state: RoundState): void {
    this.store.db.prepare('UPDATE rounds SET state = ? WHERE id = ?').run(state, record.id);
    record.state = state;
  }

  /** The round enters a stage: persisted before any site can be given that stage's task. */
  beginStage(record: RoundRecord, stage: string, live: readonly string[], nowMs: number): void {
    this.store.transaction(() => {
      this.store.db.prepare('UPDATE rounds SET stage = ? WHERE id = ?').run(stage, record.id);
      this.store.db.prepare('INSERT INTO round_stages (round_id, stage, started_ms, live_json) VALUES (?, ?, ?, ?)')
        .run(record.id, stage, nowMs, JSON.stringify(live));
    });
    record.stage = stage;
  }

  endStage(record: RoundRecord, stage: string, answered: readonly string[], dropped: readonly string[], nowMs: number): void {
    this.store.db.prepare('UPDATE round_stages SET ended_ms = ?, answered_json = ?, dropped_json = ? WHERE round_id = ? AND stage = ?')
      .run(nowMs, JSON.stringify(answered), JSON.stringify(dropped), record.id, stage);
  }

  stages(roundId: string): StageLog[] {
    const rows = this.store.db.prepare('SELECT * FROM round_stages WHERE round_id = ? ORDER BY started_ms, rowid').all(roundId) as Array<{
      round_id: string; stage: string; started_ms: number; ended_ms: number | null; live_json: string; answered_json: string | null; dropped_json: string | null;
    }>;
    return rows.map((r) => ({
      roundId: r.round_id, stage: r.stage, startedMs: r.started_ms, endedMs: r.ended_ms, live: JSON.parse(r.live_json) as string[],
      answered: r.answered_json ? JSON.parse(r.answered_json) as string[] : [], dropped: r.dropped_json ? JSON.parse(r.dropped_json) as string[] : [],
    }));
  }

  /** Written with the other submissions of the same moment (Store.defer); resolves once durable. */
  recordSubmission(roundId: string, siteId: string, numExamples: number, sha256: Buffer, trainLoss: number, trainAccuracy: number, nowMs: number): Promise<void> {
    return this.store.defer(() => {
      this.store.db.prepare(`INSERT INTO submissions (round_id, site_id, num_examples, sha256, train_loss, train_accuracy, received_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?)`).run(roundId, siteId, numExamples, sha256, trainLoss, trainAccuracy, nowMs);
    });
  }

  abort(record: RoundRecord, reason: string, nowMs: number): void {
    this.store.db.prepare(`UPDATE rounds SET state = 'aborted', closed_ms = ?, abort_reason = ?, bounds_json = ? WHERE id = ?`)
      .run(nowMs, reason, record.bounds ? JSON.stringify(record.bounds) : null, record.id);
    Object.assign(record, { state: 'aborted', closedMs: nowMs, abortReason: reason });
  }

  /** Must run inside the commit transaction; the new version is the next round's base, so a rollback target is spent. */
  markCommitted(record: RoundRecord, version: number, totalExamples: number, nowMs: number): void {
    this.store.db.prepare(`UPDATE rounds SET state = 'committed', result_version = ?, closed_ms = ?, total_examples = ?, bounds_json = ? WHERE id = ?`)
      .run(version, nowMs, totalExamples, record.bounds ? JSON.stringify(record.bounds) : null, record.id);
    this.store.db.prepare('UPDATE federations SET next_base_version = NULL WHERE id = ?').run(record.federationId);
  }

  /** The version an operator rolled back to, if the next round is to start from it rather than the newest. */
  rollbackTarget(federationId: string): number | null {
    return (this.store.db.prepare('SELECT next_base_version FROM federations WHERE id = ?').get(federationId) as { next_base_version: number | null } | undefined)?.next_base_version ?? null;
  }

  /**
   * After a crash, what sites sent lived only in memory, so a round that was open or in a stage
   * cannot be finished honestly: it is aborted, naming the stage it was in.
   */
  abortInterrupted(nowMs: number): number {
    const result = this.store.db.prepare(`UPDATE rounds SET state = 'aborted', closed_ms = ?,
      abort_reason = 'coordinator restarted while the round was in progress' || COALESCE(' (stage ' || stage || ')', '')
      WHERE state IN ('open', 'collecting')`).run(nowMs);
    return Number(result.changes);
  }

  get(roundId: string): RoundRecord | null {
    const row = this.store.db.prepare('SELECT * FROM rounds WHERE id = ?').get(roundId) as RoundRow | undefined;
    return row ? this.fromRow(row) : null;
  }

  list(federationId: string): RoundRecord[] {
    const rows = this.store.db.prepare('SELECT * FROM rounds WHERE federation_id = ? ORDER BY number').all(federationId) as unknown as RoundRow[];
    return rows.map((r) => this.fromRow(r));
  }

  committedCount(federationId: string): number {
    return (this.store.db.prepare(`SELECT COUNT(*) AS n FROM rounds WHERE federation_id = ? AND state = 'committed'`).get(federationId) as { n: number }).n;
  }

  /** The example counts these sites declared at enrolment, for those that declared one: their FedAvg weight caps. */
  declaredMaxExamples(siteIds: readonly string[]): Map<string, number> {
    const query = this.store.db.prepare('SELECT max_examples FROM sites WHERE id = ?');
    const caps = new Map<string, number>();
    for (const id of siteIds) {
      const max = (query.get(id) as { max_examples: number | null } | undefined)?.max_examples;
      if (typeof max === 'number') caps.set(id, max);
    }
    return caps;
  }

  siteName(siteId: string): string | null {
    return (this.store.db.prepare('SELECT name FROM sites WHERE id = ?').get(siteId) as { name: string } | undefined)?.name ?? null;
  }

  private fromRow(row: RoundRow): RoundRecord {
    this.store.flush();
    const submitted = this.store.db.prepare('SELECT site_id FROM submissions WHERE round_id = ? ORDER BY received_ms').all(row.id) as Array<{ site_id: string }>;
    return {
      id: row.id, federationId: row.federation_id, number: row.number, state: row.state, stage: row.stage, baseVersion: row.base_version,
      resultVersion: row.result_version, selectedSites: JSON.parse(row.selected_json) as string[], submittedSites: submitted.map((s) => s.site_id),
      seed: row.seed, openedMs: row.opened_ms, deadlineMs: row.deadline_ms, closedMs: row.closed_ms, abortReason: row.abort_reason,
      totalExamples: row.total_examples, privacy: row.privacy_json ? JSON.parse(row.privacy_json) as RoundPrivacy : null,
      ...(row.bounds_json ? { bounds: JSON.parse(row.bounds_json) as BoundedUpdates } : {}),
    };
  }
}
