import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ConclaveError, floatBytes, sha256OfFloats, validateLayout, type TensorSpec } from '../protocols/index.ts';
import type { Store } from './store.ts';

export interface ModelVersionRecord {
  federationId: string;
  version: number;
  parentVersion: number | null;
  roundId: string | null;
  sha256: Buffer;
  numParameters: number;
  layout: TensorSpec[];
  blobPath: string;
  metrics: Record<string, number>;
  createdMs: number;
  /**
   * The privacy ledger's head when this version was committed (the newest entry's hash, after the
   * round's own entry, or the federation's genesis): anchors the ledger so truncating it is detected.
   * Null for versions no DP round produced.
   */
  ledgerHead: string | null;
}

interface ModelRow {
  federation_id: string;
  version: number;
  parent_version: number | null;
  round_id: string | null;
  sha256: Uint8Array;
  num_parameters: number;
  layout_json: string;
  blob_path: string;
  metrics_json: string;
  created_ms: number;
  ledger_head: string | null;
}

/**
 * Versioned global models. A version exists once its row exists; the row is written only after
 * the blob is on disk and fsynced (ARCHITECTURE: write blob, fsync, then record the digest in the
 * same transaction as the round). A crash between the two leaves an orphan blob, which start-up
 * removes; it never leaves a row pointing at a partial file.
 */
export class ModelRegistry {
  private readonly store: Store;
  private readonly root: string;

  constructor(store: Store) {
    this.store = store;
    this.root = join(store.dataDir, 'models');
    mkdirSync(this.root, { recursive: true });
  }

  /** Step 1 of a commit: durable blob, not yet a version. Returns the path to record. */
  writeBlob(federationId: string, version: number, values: Float32Array): { blobPath: string; sha256: Buffer } {
    const dir = join(this.root, federationId);
    mkdirSync(dir, { recursive: true });
    const sha256 = sha256OfFloats(values);
    const name = `v${version}-${sha256.subarray(0, 8).toString('hex')}.f32`;
    const finalPath = join(dir, name);
    const tmpPath = `${finalPath}.tmp-${process.pid}`;
    const fd = openSync(tmpPath, 'w', 0o600);
    try {
      const bytes = floatBytes(values);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmpPath, finalPath);
    fsyncDir(dir);
    return { blobPath: relative(this.store.dataDir, finalPath), sha256 };
  }

  /** Step 2, called inside the caller's transaction (with the ledger entry, whose head a DP round's version records). */
  insertVersion(record: Omit<ModelVersionRecord, 'createdMs' | 'ledgerHead'> & { ledgerHead?: string | null }): void {
    this.store.db.prepare(`INSERT INTO model_versions
      (federation_id, version, parent_version, round_id, sha256, num_parameters, layout_json, blob_path, metrics_json, created_ms, ledger_head)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      record.federationId, record.version, record.parentVersion, record.roundId, record.sha256, record.numParameters,
      JSON.stringify(record.layout), record.blobPath, JSON.stringify(record.metrics), Date.now(), record.ledgerHead ?? null,
    );
  }

  latestVersion(federationId: string): number | null {
    const row = this.store.db.prepare('SELECT MAX(version) AS v FROM model_versions WHERE federation_id = ?').get(federationId) as { v: number | null };
    return row.v;
  }

  get(federationId: string, version: number): ModelVersionRecord {
    const row = this.store.db.prepare('SELECT * FROM model_versions WHERE federation_id = ? AND version = ?').get(federationId, version) as ModelRow | undefined;
    if (!row) throw new ConclaveError('NOT_FOUND', `federation ${federationId} has no model version ${version}`);
    return fromRow(row);
  }

  list(federationId: string): ModelVersionRecord[] {
    const rows = this.store.db.prepare('SELECT * FROM model_versions WHERE federation_id = ? ORDER BY version').all(federationId) as unknown as ModelRow[];
    return rows.map(fromRow);
  }

  /** Reads a version's weights and refuses them unless they hash to the recorded digest. */
  readWeights(record: ModelVersionRecord): Float32Array {
    const bytes = readFileSync(join(this.store.dataDir, record.blobPath));
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (values.length !== record.numParameters || !sha256OfFloats(values).equals(record.sha256)) {
      throw new ConclaveError('DIGEST_MISMATCH', `model ${record.federationId} v${record.version} on disk does not match its recorded digest`);
    }
    return values;
  }

  setMetrics(federationId: string, version: number, metrics: Record<string, number>): void {
    const current = this.get(federationId, version).metrics;
    this.store.db.prepare('UPDATE model_versions SET metrics_json = ? WHERE federation_id = ? AND version = ?')
      .run(JSON.stringify({ ...current, ...metrics }), federationId, version);
  }

  /** Deletes blobs (and temp files) that no committed version points at: leftovers of a crash mid-commit. */
  removeOrphans(): string[] {
    const referenced = new Set((this.store.db.prepare('SELECT blob_path FROM model_versions').all() as Array<{ blob_path: string }>)
      .map((r) => join(this.store.dataDir, r.blob_path)));
    const removed: string[] = [];
    for (const fed of readdirSync(this.root, { withFileTypes: true })) {
      if (!fed.isDirectory()) continue;
      const dir = join(this.root, fed.name);
      for (const file of readdirSync(dir)) {
        const path = join(dir, file);
        if (!referenced.has(path)) {
          rmSync(path, { force: true });
          removed.push(path);
        }
      }
    }
    return removed;
  }
}

function fromRow(row: ModelRow): ModelVersionRecord {
  return {
    federationId: row.federation_id,
    version: row.version,
    parentVersion: row.parent_version,
    roundId: row.round_id,
    sha256: Buffer.from(row.sha256),
    numParameters: row.num_parameters,
    layout: validateLayout(JSON.parse(row.layout_json)),
    blobPath: row.blob_path,
    metrics: JSON.parse(row.metrics_json) as Record<string, number>,
    createdMs: row.created_ms,
    ledgerHead: row.ledger_head,
  };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
