import { createHash } from 'node:crypto';
import { close, closeSync, fsync, fsyncSync, mkdirSync, open, openSync, readdirSync, readFileSync, renameSync, rmSync, write, writeSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, relative } from 'node:path';
import { ConclaveError, OFF_THREAD_MIN_BYTES, chunksOf, encodeModelChunk, floatBytes, sha256OfFloats, sha256OfFloatsOffThread, validateLayout, type EncodedMessage, type TensorSpec } from '../protocols/index.ts';
import type { OptimizerState } from './aggregation/server-optimizers.ts';
import type { Store } from './store.ts';

/** Where a version's server-optimizer state lives and what it must hash to. */
export interface OptimizerStateRef {
  /** Relative to the data dir, like `blobPath`. */
  path: string;
  sha256: Buffer;
}

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
  /** The server optimizer's state after the step that made this version; null for stateless optimizers (FedAvg). */
  optimizerState: OptimizerStateRef | null;
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
  optimizer_state_path: string | null;
  optimizer_state_sha256: Uint8Array | null;
}

/**
 * Optimizer-state files open with this, then a little-endian u32 header length, the JSON header,
 * the scalars as float64 and the vectors as float32 (little-endian, in the header's order). Values
 * are stored as bits, not JSON text, so a state reads back identical (-0 and NaN payloads included).
 */
const OPTIMIZER_STATE_MAGIC = Buffer.from('CONCLAVE-OPT-1\n', 'latin1');

interface OptimizerStateHeader {
  optimizer: string;
  /** Names of the scalars, in the order their float64 values follow the header. */
  scalars: string[];
  /** Name and length of each vector, in the order their bytes follow. */
  vectors: Array<[string, number]>;
}

/** What servedWeights may keep in memory: a few versions (one federation's current and previous model, or several federations'). */
const SERVED_CACHE_ENTRIES = 4;
const SERVED_CACHE_BYTES = 512 * 2 ** 20;

/**
 * Versioned global models. A version exists once its row exists; the row is written only after
 * the blob is on disk and fsynced (ARCHITECTURE: write blob, fsync, then record the digest in the
 * same transaction as the round). A crash between the two leaves an orphan blob, which start-up
 * removes; it never leaves a row pointing at a partial file.
 */
export class ModelRegistry {
  private readonly store: Store;
  private readonly root: string;
  /** servedChunks' verified versions, least recently used first. */
  private readonly served = new Map<string, { chunks: EncodedMessage[]; bytes: number }>();

  constructor(store: Store) {
    this.store = store;
    this.root = join(store.dataDir, 'models');
    mkdirSync(this.root, { recursive: true });
  }

  /**
   * Step 1 of a commit: durable blob, not yet a version. Returns the path to record. Hashed on the
   * verifier thread and written through the thread pool: a 16 MiB model's hash and write held the
   * coordinator's event loop (every site's poll and upload) for ~65 ms a commit.
   */
  async writeBlob(federationId: string, version: number, values: Float32Array): Promise<{ blobPath: string; sha256: Buffer }> {
    const sha256 = await sha256OfFloatsOffThread(values);
    const path = await this.writeDurably(federationId, `v${version}-${sha256.subarray(0, 8).toString('hex')}.f32`, [floatBytes(values)]);
    return { blobPath: path, sha256 };
  }

  /**
   * Step 1 too, for a stateful server optimizer: its state after the step that made `version`,
   * durable before the commit transaction records it (pass the result to `insertVersion`).
   */
  async writeOptimizerState(federationId: string, version: number, state: OptimizerState): Promise<OptimizerStateRef> {
    const names = Object.keys(state.vectors).sort();
    const scalarNames = Object.keys(state.scalars).sort();
    const scalars = Buffer.alloc(8 * scalarNames.length);
    scalarNames.forEach((key, i) => {
      const v = state.scalars[key]!;
      if (!Number.isFinite(v)) throw new ConclaveError('INVALID_ARGUMENT', `optimizer state scalar "${key}" is not finite`);
      scalars.writeDoubleLE(v, 8 * i);
    });
    const header: OptimizerStateHeader = { optimizer: state.optimizer, scalars: scalarNames, vectors: names.map((n) => [n, state.vectors[n]!.length]) };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(json.length);
    const parts = [OPTIMIZER_STATE_MAGIC, length, json, scalars, ...names.map((n) => floatBytes(state.vectors[n]!))];
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    const sha256 = hash.digest();
    const path = await this.writeDurably(federationId, `v${version}-${sha256.subarray(0, 8).toString('hex')}.opt`, parts);
    return { path, sha256 };
  }

  /** Step 2, called inside the caller's transaction (with the ledger entry, whose head a DP round's version records). */
  insertVersion(record: Omit<ModelVersionRecord, 'createdMs' | 'ledgerHead' | 'optimizerState'> & {
    ledgerHead?: string | null; optimizerState?: OptimizerStateRef | null;
  }): void {
    this.store.db.prepare(`INSERT INTO model_versions
      (federation_id, version, parent_version, round_id, sha256, num_parameters, layout_json, blob_path, metrics_json, created_ms, ledger_head,
       optimizer_state_path, optimizer_state_sha256)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      record.federationId, record.version, record.parentVersion, record.roundId, record.sha256, record.numParameters,
      JSON.stringify(record.layout), record.blobPath, JSON.stringify(record.metrics), Date.now(), record.ledgerHead ?? null,
      record.optimizerState?.path ?? null, record.optimizerState?.sha256 ?? null,
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
    // A large file's buffer is its own allocation at offset 0: view it instead of copying (on this
    // VM a copy into fresh memory cost more than reading the file). Small files may sit in Node's
    // shared pool at an odd offset; those are copied out.
    const values = bytes.byteOffset % 4 === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (values.length !== record.numParameters || !sha256OfFloats(values).equals(record.sha256)) {
      throw new ConclaveError('DIGEST_MISMATCH', `model ${record.federationId} v${record.version} on disk does not match its recorded digest`);
    }
    return values;
  }

  /**
   * The chunks DownloadModel streams, already protobuf-encoded: the weights are verified against
   * the recorded digest when first read, then kept as their encoded messages, so the sites of a
   * round that all fetch the same version cost one disk read, one hash and one encoding, not one
   * each (and the stream makes no copy per chunk). Keyed by the digest as well as the version, so
   * a version number reused after a rollback never serves stale bytes; bounded to the most recent
   * versions and SERVED_CACHE_BYTES.
   */
  servedChunks(record: ModelVersionRecord): EncodedMessage[] {
    const key = `${record.federationId}\u0000${record.version}\u0000${record.sha256.toString('hex')}`;
    const hit = this.served.get(key);
    if (hit) {
      // Most recently used last, so eviction drops the oldest.
      this.served.delete(key);
      this.served.set(key, hit);
      return hit.chunks;
    }
    const values = this.readWeights(record);
    const chunks = Array.from(chunksOf(values), (chunk) => encodeModelChunk(chunk));
    if (values.byteLength <= SERVED_CACHE_BYTES) {
      this.served.set(key, { chunks, bytes: chunks.reduce((n, c) => n + c.bytes.byteLength, 0) });
      let bytes = 0;
      for (const v of this.served.values()) bytes += v.bytes;
      for (const [k, v] of this.served) {
        if (bytes <= SERVED_CACHE_BYTES && this.served.size <= SERVED_CACHE_ENTRIES) break;
        this.served.delete(k);
        bytes -= v.bytes;
      }
    }
    return chunks;
  }

  /**
   * The optimizer state recorded with a version (null when its optimizer keeps none), refused
   * unless the file hashes to the recorded digest and every vector is model-sized.
   */
  readOptimizerState(record: ModelVersionRecord): OptimizerState | null {
    const ref = record.optimizerState;
    if (!ref) return null;
    const bytes = readFileSync(join(this.store.dataDir, ref.path));
    const where = `optimizer state of model ${record.federationId} v${record.version}`;
    if (!createHash('sha256').update(bytes).digest().equals(ref.sha256)) throw new ConclaveError('DIGEST_MISMATCH', `${where} on disk does not match its recorded digest`);
    const magic = OPTIMIZER_STATE_MAGIC.length;
    if (bytes.length < magic + 4 || !bytes.subarray(0, magic).equals(OPTIMIZER_STATE_MAGIC)) throw new ConclaveError('DIGEST_MISMATCH', `${where} is not an optimizer-state file`);
    const headerLength = bytes.readUInt32LE(magic);
    let offset = magic + 4 + headerLength;
    const header = JSON.parse(bytes.subarray(magic + 4, offset).toString('utf8')) as OptimizerStateHeader;
    if (offset + 8 * header.scalars.length > bytes.length) throw new ConclaveError('DIGEST_MISMATCH', `${where} is truncated`);
    const scalars: Record<string, number> = {};
    for (const name of header.scalars) {
      scalars[name] = bytes.readDoubleLE(offset);
      offset += 8;
    }
    const vectors: Record<string, Float32Array> = {};
    for (const [name, length] of header.vectors) {
      if (length !== record.numParameters) throw new ConclaveError('LAYOUT_MISMATCH', `${where}: vector "${name}" has ${length} values, the model ${record.numParameters}`);
      const end = offset + 4 * length;
      if (end > bytes.length) throw new ConclaveError('DIGEST_MISMATCH', `${where} is truncated`);
      vectors[name] = new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + end));
      offset = end;
    }
    if (offset !== bytes.length) throw new ConclaveError('DIGEST_MISMATCH', `${where} has trailing bytes`);
    return { optimizer: header.optimizer, scalars, vectors };
  }

  setMetrics(federationId: string, version: number, metrics: Record<string, number>): void {
    const current = this.get(federationId, version).metrics;
    this.store.db.prepare('UPDATE model_versions SET metrics_json = ? WHERE federation_id = ? AND version = ?')
      .run(JSON.stringify({ ...current, ...metrics }), federationId, version);
  }

  /** Writes `parts` to a temp file, fsyncs it, renames it into place and fsyncs the directory; returns the path relative to the data dir. */
  private async writeDurably(federationId: string, name: string, parts: Buffer[]): Promise<string> {
    const io = parts.reduce((n, b) => n + b.length, 0) >= OFF_THREAD_MIN_BYTES ? THREAD_POOL_IO : LOOP_IO;
    const dir = join(this.root, federationId);
    await io.mkdir(dir);
    const finalPath = join(dir, name);
    const tmpPath = `${finalPath}.tmp-${process.pid}`;
    const fd = await io.open(tmpPath, 'w', 0o600);
    try {
      for (const bytes of parts) {
        let written = 0;
        while (written < bytes.length) written += await io.write(fd, bytes, written, bytes.length - written);
      }
      await io.fsync(fd);
    } finally {
      await io.close(fd);
    }
    await io.rename(tmpPath, finalPath);
    const dirFd = await io.open(dir, 'r');
    try {
      await io.fsync(dirFd);
    } finally {
      await io.close(dirFd);
    }
    return relative(this.store.dataDir, finalPath);
  }

  /** Deletes blobs, optimizer states (and temp files) that no committed version points at: leftovers of a crash mid-commit. */
  removeOrphans(): string[] {
    const rows = this.store.db.prepare('SELECT blob_path, optimizer_state_path FROM model_versions').all() as Array<{ blob_path: string; optimizer_state_path: string | null }>;
    const referenced = new Set<string>();
    for (const r of rows) {
      referenced.add(join(this.store.dataDir, r.blob_path));
      if (r.optimizer_state_path !== null) referenced.add(join(this.store.dataDir, r.optimizer_state_path));
    }
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
    optimizerState: row.optimizer_state_path !== null && row.optimizer_state_sha256 !== null
      ? { path: row.optimizer_state_path, sha256: Buffer.from(row.optimizer_state_sha256) }
      : null,
  };
}

/** The file operations of a durable write, on the event loop or through libuv's thread pool. */
interface DurableIo {
  mkdir(dir: string): Promise<unknown>;
  open(path: string, flags: string, mode?: number): Promise<number>;
  write(fd: number, bytes: Buffer, offset: number, length: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

const openAsync = promisify(open);
const writeAsync = promisify(write);

/**
 * A model-sized blob is written through the thread pool, so a commit does not hold the event loop
 * (every site's poll and upload) for the write and its fsync. Small files stay on the loop: a round
 * trip to the pool costs more than they do, and a small model's commit then lands within the
 * microtasks after its last accept, as it always has.
 */
const THREAD_POOL_IO: DurableIo = {
  mkdir: (dir) => mkdir(dir, { recursive: true }),
  open: (path, flags, mode) => openAsync(path, flags, mode),
  write: async (fd, bytes, offset, length) => (await writeAsync(fd, bytes, offset, length)).bytesWritten,
  fsync: promisify(fsync),
  close: promisify(close),
  rename,
};

const LOOP_IO: DurableIo = {
  mkdir: async (dir) => mkdirSync(dir, { recursive: true }),
  open: async (path, flags, mode) => openSync(path, flags, mode),
  write: async (fd, bytes, offset, length) => writeSync(fd, bytes, offset, length),
  fsync: async (fd) => fsyncSync(fd),
  close: async (fd) => closeSync(fd),
  rename: async (from, to) => renameSync(from, to),
};
