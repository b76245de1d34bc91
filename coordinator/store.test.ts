import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.ts';
import { ModelRegistry } from './model-registry.ts';

const F = 'fed-1';
const TABLES = ['federations', 'sites', 'tokens', 'model_versions', 'rounds', 'submissions', 'ledger_entries'];

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-store-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The format a new data dir gets: every migration must lead there. */
function currentFormat(): number {
  const fresh = mkdtempSync(join(tmpdir(), 'conclave-store-fresh-'));
  try {
    const store = new Store(fresh);
    const v = userVersion(store.db);
    store.close();
    return v;
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}

function userVersion(db: DatabaseSync): number {
  return (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
}

/** Every row of every table, keyed by table, with only the columns that existed at `columnsOf` time. */
function dump(db: DatabaseSync, columnsOf: Record<string, string[]>): Record<string, unknown[]> {
  return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT ${columnsOf[t]!.join(', ')} FROM ${t} ORDER BY rowid`).all()]));
}

function columns(db: DatabaseSync): Record<string, string[]> {
  return Object.fromEntries(TABLES.map((t) => [t, (db.prepare(`SELECT name FROM pragma_table_info('${t}')`).all() as Array<{ name: string }>).map((c) => c.name)]));
}

/**
 * A data dir of an older format: today's schema with the later columns dropped (SQLite keeps the
 * remaining columns in order, so the tables are those of that format), filled with a federation
 * that has run rounds.
 */
function legacyDataDir(format: 1 | 2): void {
  new Store(dir).close();
  const raw = new DatabaseSync(join(dir, 'conclave.db'));
  // What formats after 3 added (round stages), then what 3 added.
  const roundColumns = (raw.prepare(`SELECT name FROM pragma_table_info('rounds')`).all() as Array<{ name: string }>).map((c) => c.name);
  if (roundColumns.includes('stage')) raw.exec('ALTER TABLE rounds DROP COLUMN stage');
  raw.exec('DROP TABLE IF EXISTS round_stages');
  raw.exec('ALTER TABLE model_versions DROP COLUMN optimizer_state_sha256; ALTER TABLE model_versions DROP COLUMN optimizer_state_path;');
  if (format === 1) raw.exec('ALTER TABLE model_versions DROP COLUMN ledger_head');
  raw.exec(`PRAGMA user_version = ${format};
    INSERT INTO federations (id, name, config_json, topology_json, status, created_ms)
      VALUES ('${F}', 'f', '{"protection":"none"}', '{}', 'running', 1);
    INSERT INTO sites (id, federation_id, name, enrolled_ms) VALUES ('s1', '${F}', 'site-1', 2), ('s2', '${F}', 'site-2', 3);
    INSERT INTO tokens (id, subject, role, federation_id, expires_s) VALUES ('t1', 's1', 'site', '${F}', 99);
    INSERT INTO rounds (id, federation_id, number, state, base_version, result_version, selected_json, seed, opened_ms, deadline_ms, closed_ms, total_examples)
      VALUES ('r1', '${F}', 1, 'committed', 0, 1, '["s1","s2"]', 8, 10, 20, 15, 300),
             ('r2', '${F}', 2, 'aborted', 1, NULL, '["s1"]', 9, 30, 40, 41, 0);
    INSERT INTO submissions (round_id, site_id, num_examples, sha256, train_loss, train_accuracy, received_ms)
      VALUES ('r1', 's1', 100, x'0102', 0.5, 0.9, 12), ('r1', 's2', 200, x'0304', 0.25, 0.95, 13);`);
  const version = raw.prepare(`INSERT INTO model_versions (federation_id, version, parent_version, round_id, sha256, num_parameters, layout_json, blob_path, metrics_json, created_ms)
    VALUES (?, ?, ?, ?, x'aa', 4, '[{"name":"w","shape":[4],"dtype":"float32"}]', ?, '{"updates":2}', ?)`);
  version.run(F, 0, null, null, `models/${F}/v0.f32`, 5);
  version.run(F, 1, 0, 'r1', `models/${F}/v1.f32`, 16);
  if (format === 2) raw.exec(`UPDATE model_versions SET ledger_head = 'head-' || version`);
  raw.close();
}

describe('store migrations', () => {
  for (const format of [1, 2] as const) {
    it(`a user_version ${format} data dir upgrades to the current format without losing a row; its versions have no optimizer state`, async () => {
      legacyDataDir(format);
      const raw = new DatabaseSync(join(dir, 'conclave.db'));
      const oldColumns = columns(raw);
      const before = dump(raw, oldColumns);
      expect(userVersion(raw)).toBe(format);
      raw.close();

      const store = new Store(dir);
      try {
        expect(userVersion(store.db)).toBe(currentFormat());
        expect(dump(store.db, oldColumns)).toEqual(before);
        const registry = new ModelRegistry(store);
        const v1 = registry.get(F, 1);
        expect(v1).toMatchObject({ version: 1, parentVersion: 0, roundId: 'r1', metrics: { updates: 2 }, optimizerState: null });
        expect(v1.ledgerHead).toBe(format === 2 ? 'head-1' : null);
        expect(registry.readOptimizerState(v1)).toBeNull();

        // The upgraded dir takes versions with optimizer state like a new one.
        const weights = Float32Array.from([1, 2, 3, 4]);
        const { blobPath, sha256 } = await registry.writeBlob(F, 2, weights);
        const state = { optimizer: 'sgd-test', scalars: { step: 3 }, vectors: { m: Float32Array.from([0.5, -1, 0, 2]) } };
        const optimizerState = await registry.writeOptimizerState(F, 2, state);
        store.transaction(() => registry.insertVersion({
          federationId: F, version: 2, parentVersion: 1, roundId: null, sha256, numParameters: 4, layout: v1.layout, blobPath, metrics: {}, optimizerState,
        }));
        expect(registry.readOptimizerState(registry.get(F, 2))).toEqual(state);
      } finally {
        store.close();
      }
    });
  }

  it('a data dir that already has the columns (rebuilt by hand) still migrates, and reopening a current one changes nothing', () => {
    new Store(dir).close();
    const raw = new DatabaseSync(join(dir, 'conclave.db'));
    raw.exec('ALTER TABLE model_versions DROP COLUMN ledger_head; PRAGMA user_version = 1;');
    raw.close();
    let store = new Store(dir);
    const after = columns(store.db);
    expect(userVersion(store.db)).toBe(currentFormat());
    expect(after['model_versions']).toEqual(expect.arrayContaining(['ledger_head', 'optimizer_state_path', 'optimizer_state_sha256']));
    store.close();
    store = new Store(dir);
    try {
      expect(userVersion(store.db)).toBe(currentFormat());
      expect(columns(store.db)).toEqual(after);
    } finally {
      store.close();
    }
  });
});

describe('deferred writes (one transaction for the writes of one moment)', () => {
  const row = (store: Store, id: string) => store.defer(() => {
    store.db.prepare("INSERT INTO federations (id, name, config_json, topology_json, status, created_ms) VALUES (?, ?, '{}', '{}', 'created', 0)").run(id, id);
  });
  const count = (store: Store) => (store.db.prepare('SELECT COUNT(*) AS n FROM federations').get() as { n: number }).n;

  it('writes them together at the end of the turn, and resolves each once written', async () => {
    const store = new Store(dir);
    const written = [row(store, 'a'), row(store, 'b'), row(store, 'c')];
    expect(count(store)).toBe(0);
    await Promise.all(written);
    expect(count(store)).toBe(3);
    store.close();
  });

  it('a transaction, a flush and close write what is queued first', async () => {
    const store = new Store(dir);
    const first = row(store, 'a');
    // The transaction sees the deferred row: it was written before the transaction began.
    expect(store.transaction(() => count(store))).toBe(1);
    await first;
    const second = row(store, 'b');
    store.flush();
    expect(count(store)).toBe(2);
    await second;
    const third = row(store, 'c');
    store.close();
    await third;
    const reopened = new Store(dir);
    expect(count(reopened)).toBe(3);
    reopened.close();
  });

  it('a failing write fails every write of its batch, and none of them is kept', async () => {
    const store = new Store(dir);
    const good = row(store, 'a');
    const bad = row(store, 'a'); // the same primary key
    const results = await Promise.allSettled([good, bad]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(count(store)).toBe(0);
    // The next batch is a batch of its own.
    await row(store, 'b');
    expect(count(store)).toBe(1);
    store.close();
  });
});
