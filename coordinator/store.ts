import { DatabaseSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { genesisHash } from '../crypto/ledger-signing.ts';

/**
 * The coordinator's single source of truth. Every state transition is written here before it
 * takes effect (ARCHITECTURE: "persisted before each transition"), so a restart can always tell
 * what was committed. WAL + synchronous=FULL: a COMMIT that returned survives a power cut.
 */
export class Store {
  readonly db: DatabaseSync;
  readonly dataDir: string;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.dataDir = dataDir;
    this.db = new DatabaseSync(join(dataDir, 'conclave.db'));
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
    this.migrate();
  }

  private deferred: Array<() => void> = [];
  private deferredDone: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  private flushQueued = false;

  /**
   * A write that may wait for the other writes of the same moment: queued, and written with them
   * in one transaction, so one fsync, at the end of this turn of the event loop, or earlier by
   * `flush()` (every `transaction()` flushes first, so a deferred write is never ordered after a
   * later transaction). Resolves once it is durable. Each autocommit on its own cost an fsync on
   * the event loop: a submission row was ~7 ms of the coordinator's thread on the VMs measured,
   * 200 of them in a burst when a round's sites finish together (GetTask p99 1.25 s, bench/load.ts).
   */
  defer(write: () => void): Promise<void> {
    this.deferred.push(write);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        if (this.db.isOpen) this.flush();
      });
    }
    return new Promise((resolve, reject) => this.deferredDone.push({ resolve, reject }));
  }

  /** Writes what `defer` queued (one transaction); a reader of those rows calls it first. */
  flush(): void {
    if (this.deferred.length === 0) return;
    const writes = this.deferred;
    const done = this.deferredDone;
    this.deferred = [];
    this.deferredDone = [];
    try {
      this.run(() => {
        for (const write of writes) write();
      });
    } catch (err) {
      for (const d of done) d.reject(err);
      return;
    }
    for (const d of done) d.resolve();
  }

  /** Runs fn inside one IMMEDIATE transaction; anything thrown rolls everything back. */
  transaction<T>(fn: () => T): T {
    this.flush();
    return this.run(fn);
  }

  private run<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  close(): void {
    if (!this.db.isOpen) return;
    this.flush();
    this.db.close();
  }

  private migrate(): void {
    const version = (this.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    if (version < 1) {
      this.transaction(() => {
        this.db.exec(`
          CREATE TABLE federations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            config_json TEXT NOT NULL,
            topology_json TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('created', 'running', 'finished')),
            finish_reason TEXT,
            created_ms INTEGER NOT NULL
          );
          CREATE TABLE sites (
            id TEXT PRIMARY KEY,
            federation_id TEXT NOT NULL REFERENCES federations(id),
            name TEXT NOT NULL,
            enrolled_ms INTEGER NOT NULL,
            revoked_ms INTEGER,
            budget_epsilon REAL,
            sample_rate REAL,
            UNIQUE (federation_id, name)
          );
          CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            role TEXT NOT NULL,
            federation_id TEXT,
            expires_s INTEGER NOT NULL,
            revoked_ms INTEGER
          );
          CREATE TABLE model_versions (
            federation_id TEXT NOT NULL REFERENCES federations(id),
            version INTEGER NOT NULL,
            parent_version INTEGER,
            round_id TEXT,
            sha256 BLOB NOT NULL,
            num_parameters INTEGER NOT NULL,
            layout_json TEXT NOT NULL,
            blob_path TEXT NOT NULL,
            metrics_json TEXT NOT NULL DEFAULT '{}',
            created_ms INTEGER NOT NULL,
            PRIMARY KEY (federation_id, version)
          );
          CREATE TABLE rounds (
            id TEXT PRIMARY KEY,
            federation_id TEXT NOT NULL REFERENCES federations(id),
            number INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'collecting', 'committed', 'aborted')),
            base_version INTEGER NOT NULL,
            result_version INTEGER,
            selected_json TEXT NOT NULL,
            seed INTEGER NOT NULL,
            opened_ms INTEGER NOT NULL,
            deadline_ms INTEGER NOT NULL,
            closed_ms INTEGER,
            abort_reason TEXT,
            total_examples INTEGER NOT NULL DEFAULT 0,
            privacy_json TEXT
          );
          CREATE INDEX rounds_by_federation ON rounds (federation_id, number);
          CREATE TABLE submissions (
            round_id TEXT NOT NULL REFERENCES rounds(id),
            site_id TEXT NOT NULL REFERENCES sites(id),
            num_examples INTEGER NOT NULL,
            sha256 BLOB NOT NULL,
            train_loss REAL,
            train_accuracy REAL,
            received_ms INTEGER NOT NULL,
            PRIMARY KEY (round_id, site_id)
          );
          -- Append-only: entries are never updated or deleted; each names its predecessor's hash.
          CREATE TABLE ledger_entries (
            federation_id TEXT NOT NULL REFERENCES federations(id),
            seq INTEGER NOT NULL,
            round_id TEXT NOT NULL REFERENCES rounds(id),
            payload_json TEXT NOT NULL,
            hash TEXT NOT NULL,
            jws TEXT NOT NULL,
            PRIMARY KEY (federation_id, seq)
          );
          CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
          CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
          PRAGMA user_version = 1;
        `);
      });
    }
    if (version < 2) {
      // Each model version a DP round produced records the ledger head at its commit, so deleting
      // the newest entries (or all of them) no longer leaves a ledger that verifies.
      this.transaction(() => {
        this.db.exec('ALTER TABLE model_versions ADD COLUMN ledger_head TEXT');
        this.anchorExistingVersions();
        this.db.exec('PRAGMA user_version = 2');
      });
    }
    if (version < 3) {
      // A stateful server optimizer's state belongs to the version it produced, recorded in the
      // same commit (a blob like the model's, and its digest). Versions from before have none:
      // they were all made by FedAvg, which keeps no state, so NULL is the truth for them.
      // The columns are added only where missing: a data dir rebuilt by hand from a newer schema
      // (as migration tests do) may already have them.
      this.transaction(() => {
        const columns = new Set((this.db.prepare(`SELECT name FROM pragma_table_info('model_versions')`).all() as Array<{ name: string }>).map((c) => c.name));
        if (!columns.has('optimizer_state_path')) this.db.exec('ALTER TABLE model_versions ADD COLUMN optimizer_state_path TEXT');
        if (!columns.has('optimizer_state_sha256')) {
          this.db.exec(`ALTER TABLE model_versions ADD COLUMN optimizer_state_sha256 BLOB
            CHECK ((optimizer_state_sha256 IS NULL) = (optimizer_state_path IS NULL))`);
        }
        this.db.exec('PRAGMA user_version = 3');
      });
    }
    if (version < 4) {
      // Rounds run as ordered protocol stages: the stage a round is in is persisted before its
      // tasks go out, and each stage's live sites, answers and dropouts are kept for the operator.
      this.transaction(() => {
        const columns = new Set((this.db.prepare(`SELECT name FROM pragma_table_info('rounds')`).all() as Array<{ name: string }>).map((c) => c.name));
        if (!columns.has('stage')) this.db.exec('ALTER TABLE rounds ADD COLUMN stage TEXT');
        this.db.exec(`CREATE TABLE IF NOT EXISTS round_stages (
          round_id TEXT NOT NULL REFERENCES rounds(id),
          stage TEXT NOT NULL,
          started_ms INTEGER NOT NULL,
          ended_ms INTEGER,
          live_json TEXT NOT NULL,
          answered_json TEXT,
          dropped_json TEXT,
          PRIMARY KEY (round_id, stage)
        )`);
        this.db.exec('PRAGMA user_version = 4');
      });
    }
    if (version < 5) {
      // An operator's rollback: the version the next round starts from, when it is not the newest.
      // History is kept (every version stays listed) and the ledger is untouched.
      this.transaction(() => {
        const columns = new Set((this.db.prepare(`SELECT name FROM pragma_table_info('federations')`).all() as Array<{ name: string }>).map((c) => c.name));
        if (!columns.has('next_base_version')) this.db.exec('ALTER TABLE federations ADD COLUMN next_base_version INTEGER');
        this.db.exec('PRAGMA user_version = 5');
      });
    }
    if (version < 6) {
      // What bounds one site (issue 13): the example count a site declared at enrolment caps its
      // FedAvg weight, and each round keeps how many updates its bounds clipped, capped or refused.
      this.transaction(() => {
        const siteColumns = new Set((this.db.prepare(`SELECT name FROM pragma_table_info('sites')`).all() as Array<{ name: string }>).map((c) => c.name));
        if (!siteColumns.has('max_examples')) this.db.exec('ALTER TABLE sites ADD COLUMN max_examples INTEGER');
        const roundColumns = new Set((this.db.prepare(`SELECT name FROM pragma_table_info('rounds')`).all() as Array<{ name: string }>).map((c) => c.name));
        if (!roundColumns.has('bounds_json')) this.db.exec('ALTER TABLE rounds ADD COLUMN bounds_json TEXT');
        this.db.exec('PRAGMA user_version = 6');
      });
    }
  }

  /**
   * Data dirs from before anchors: a DP version gets the head its commit wrote. Format-1 entries
   * were all written at commit and name their version, so that head is the last entry naming this
   * version or an earlier one. This trusts the ledger as it stands at the upgrade, as far as its
   * length goes; its signatures and chain are checked as for every ledger.
   */
  private anchorExistingVersions(): void {
    const versions = this.db.prepare(`SELECT mv.federation_id AS federation_id, mv.version AS version FROM model_versions mv
      JOIN rounds r ON r.id = mv.round_id WHERE r.privacy_json IS NOT NULL ORDER BY mv.federation_id, mv.version`)
      .all() as Array<{ federation_id: string; version: number }>;
    const entriesOf = this.db.prepare('SELECT hash, payload_json FROM ledger_entries WHERE federation_id = ? ORDER BY seq');
    const anchor = this.db.prepare('UPDATE model_versions SET ledger_head = ? WHERE federation_id = ? AND version = ?');
    let federation: string | null = null;
    let entries: Array<{ hash: string; modelVersion: number }> = [];
    for (const v of versions) {
      if (v.federation_id !== federation) {
        federation = v.federation_id;
        entries = (entriesOf.all(federation) as Array<{ hash: string; payload_json: string }>).map((e) => ({ hash: e.hash, modelVersion: modelVersionOf(e.payload_json) }));
      }
      let head = genesisHash(v.federation_id);
      for (const e of entries) if (e.modelVersion <= v.version) head = e.hash;
      anchor.run(head, v.federation_id, v.version);
    }
  }
}

/** The version a format-1 entry names; an unreadable entry anchors nothing (the audit reports it). */
function modelVersionOf(payloadJson: string): number {
  try {
    const v = (JSON.parse(payloadJson) as { modelVersion?: unknown }).modelVersion;
    return typeof v === 'number' ? v : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
