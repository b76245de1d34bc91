import { randomUUID } from 'node:crypto';
import type { StatementSync } from 'node:sqlite';
import { ConclaveError, layoutElements, type TensorSpec } from '../protocols/index.ts';
import { issueToken, type SigningKeys } from '../crypto/tokens.ts';
import type { Store } from './store.ts';
import type { ModelRegistry } from './model-registry.ts';
import type { Authenticator } from './auth.ts';
import { parseFederationConfig, type FederationConfig } from './federation-config.ts';
import { checkTopology, checkWeightsBelong } from './model-topology.ts';
import { MAX_EXAMPLES_PER_UPDATE } from './protection/none.ts';
import type { FederationView } from './rounds.ts';

export interface FederationRecord extends FederationView {
  name: string;
  topologyJson: string;
  createdMs: number;
  finishReason: string | null;
}

interface FederationRow {
  id: string; name: string; config_json: string; topology_json: string; status: FederationView['status']; created_ms: number; finish_reason: string | null;
}

/** Version 0 as the admin client sends it: the tfjs topology and the trainable weights, flattened. */
export interface InitialModel {
  topologyJson: string;
  layout: TensorSpec[];
  values: Float32Array;
}

const DEFAULT_SITE_TOKEN_TTL_S = 30 * 24 * 3600;

export class Federations {
  private readonly store: Store;
  private readonly registry: ModelRegistry;
  private readonly keys: SigningKeys;
  private readonly auth: Authenticator;
  /** A federation's config never changes after creation; scheduler ticks and polls read it constantly. */
  private readonly configs = new Map<string, FederationConfig>();

  constructor(deps: { store: Store; registry: ModelRegistry; keys: SigningKeys; auth: Authenticator }) {
    this.store = deps.store;
    this.registry = deps.registry;
    this.keys = deps.keys;
    this.auth = deps.auth;
  }

  /**
   * Creates the federation and its model version 0 together: a federation never exists without a
   * model. The admin client built version 0 (topology and weights); it is stored, never run here.
   */
  async create(rawConfig: unknown, initial: InitialModel): Promise<FederationRecord> {
    const config = parseFederationConfig(rawConfig);
    checkWeightsBelong(checkTopology(initial.topologyJson), initial.layout);
    if (layoutElements(initial.layout) !== initial.values.length) {
      throw new ConclaveError('LAYOUT_MISMATCH', `the layout describes ${layoutElements(initial.layout)} weights, ${initial.values.length} were sent`);
    }
    const id = randomUUID();
    const { blobPath, sha256 } = await this.registry.writeBlob(id, 0, initial.values);
    const now = Date.now();
    this.store.transaction(() => {
      this.store.db.prepare(`INSERT INTO federations (id, name, config_json, topology_json, status, created_ms) VALUES (?, ?, ?, ?, 'created', ?)`)
        .run(id, config.name, JSON.stringify(config), initial.topologyJson, now);
      this.registry.insertVersion({
        federationId: id, version: 0, parentVersion: null, roundId: null, sha256, numParameters: initial.values.length,
        layout: initial.layout, blobPath, metrics: {},
      });
    });
    return this.get(id);
  }

  /**
   * What a site's long poll reads on every wake-up (status, config, finish reason), without the
   * topology JSON, from one prepared statement: at 200 polling sites, preparing the query and
   * copying the whole row out on each wake-up was the coordinator thread's largest item after
   * the submission fsyncs (bench/load.ts profile).
   */
  status(id: string): FederationView & { finishReason: string | null } {
    this.statusQuery ??= this.store.db.prepare('SELECT id, config_json, status, finish_reason FROM federations WHERE id = ?');
    const row = this.statusQuery.get(id) as Pick<FederationRow, 'id' | 'config_json' | 'status' | 'finish_reason'> | undefined;
    if (!row) throw new ConclaveError('NOT_FOUND', `federation ${id} does not exist`);
    return { id: row.id, config: this.configOf(row), status: row.status, finishReason: row.finish_reason };
  }

  private statusQuery: StatementSync | null = null;

  get(id: string): FederationRecord {
    if (typeof id !== 'string' || id.length === 0) throw new ConclaveError('INVALID_ARGUMENT', 'federation id is required');
    const row = this.store.db.prepare('SELECT * FROM federations WHERE id = ?').get(id) as FederationRow | undefined;
    if (!row) throw new ConclaveError('NOT_FOUND', `federation ${id} does not exist`);
    return {
      id: row.id, name: row.name, config: this.configOf(row), topologyJson: row.topology_json,
      status: row.status, createdMs: row.created_ms, finishReason: row.finish_reason,
    };
  }

  private configOf(row: Pick<FederationRow, 'id' | 'config_json'>): FederationConfig {
    let config = this.configs.get(row.id);
    if (!config) {
      config = parseFederationConfig(JSON.parse(row.config_json));
      this.configs.set(row.id, config);
    }
    return config;
  }

  /** Every federation, oldest first. */
  list(): FederationRecord[] {
    const ids = this.store.db.prepare('SELECT id FROM federations ORDER BY created_ms, id').all() as Array<{ id: string }>;
    return ids.map((row) => this.get(row.id));
  }

  start(id: string): FederationRecord {
    const federation = this.get(id);
    if (federation.status === 'finished') throw new ConclaveError('FEDERATION_STATE', `federation ${id} has finished: ${federation.finishReason ?? 'all rounds done'}`);
    this.store.db.prepare(`UPDATE federations SET status = 'running' WHERE id = ? AND status = 'created'`).run(id);
    return this.get(id);
  }

  /**
   * Makes an earlier version the base of the next round (a rollback): the next commit records it
   * as its parent; every version stays in the registry and nothing in the ledger changes.
   */
  rollback(id: string, version: number): FederationRecord {
    const federation = this.get(id);
    if (!Number.isSafeInteger(version) || version < 0) throw new ConclaveError('INVALID_ARGUMENT', 'version must be a non-negative integer');
    this.registry.get(id, version); // NOT_FOUND for a version the federation never had
    this.store.db.prepare('UPDATE federations SET next_base_version = ? WHERE id = ?').run(version, id);
    return federation;
  }

  markFinished(id: string, reason: string): void {
    this.store.db.prepare(`UPDATE federations SET status = 'finished', finish_reason = ? WHERE id = ? AND status != 'finished'`).run(reason, id);
  }

  /**
   * A site may carry its own budget (ε at the federation's δ) and sampling rate; sites that join
   * late or consent to less are accounted on their own terms.
   */
  async enrollSite(federationId: string, siteName: string, ttlSeconds: number, privacy: { budgetEpsilon: number | null; sampleRate: number | null } = { budgetEpsilon: null, sampleRate: null },
    maxExamples: number | null = null): Promise<{ siteId: string; token: string }> {
    const federation = this.get(federationId);
    if (maxExamples !== null && !(Number.isInteger(maxExamples) && maxExamples >= 1 && maxExamples <= MAX_EXAMPLES_PER_UPDATE)) {
      throw new ConclaveError('INVALID_ARGUMENT', `a site's declared example count must be an integer in [1, ${MAX_EXAMPLES_PER_UPDATE}]`);
    }
    if (privacy.budgetEpsilon !== null && !(privacy.budgetEpsilon > 0 && Number.isFinite(privacy.budgetEpsilon))) {
      throw new ConclaveError('INVALID_ARGUMENT', 'site budget must be a positive ε');
    }
    if (privacy.sampleRate !== null && !(privacy.sampleRate > 0 && privacy.sampleRate <= 1)) {
      throw new ConclaveError('INVALID_ARGUMENT', 'site sample rate must be in (0, 1]');
    }
    if ((privacy.budgetEpsilon !== null || privacy.sampleRate !== null) && !federation.config.privacy) {
      throw new ConclaveError('INVALID_ARGUMENT', 'a site budget or sample rate needs a federation with differential privacy');
    }
    if (typeof siteName !== 'string' || !/^[\w.\-]{1,64}$/.test(siteName)) {
      throw new ConclaveError('INVALID_ARGUMENT', 'site name must be 1-64 letters, digits, ".", "_" or "-"');
    }
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > 366 * 24 * 3600) {
      throw new ConclaveError('INVALID_ARGUMENT', 'token ttl must be between 1 second and 366 days (0 for the 30-day default)');
    }
    const exists = this.store.db.prepare('SELECT id FROM sites WHERE federation_id = ? AND name = ?').get(federationId, siteName);
    if (exists) throw new ConclaveError('ALREADY_EXISTS', `a site named ${siteName} is already enrolled in this federation`);
    const siteId = randomUUID();
    const issued = await issueToken(this.keys, { subject: siteId, role: 'site', federationId, ttlSeconds: ttlSeconds || DEFAULT_SITE_TOKEN_TTL_S });
    this.store.transaction(() => {
      this.store.db.prepare('INSERT INTO sites (id, federation_id, name, enrolled_ms, budget_epsilon, sample_rate, max_examples) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(siteId, federationId, siteName, Date.now(), privacy.budgetEpsilon, privacy.sampleRate, maxExamples);
      this.auth.recordIssued(issued, siteId, 'site', federationId);
    });
    return { siteId, token: issued.token };
  }

  /** Revocation covers the site and every token it holds, effective on the next call it makes. */
  revokeSite(federationId: string, siteId: string): boolean {
    const now = Date.now();
    return this.store.transaction(() => {
      const changed = this.store.db.prepare('UPDATE sites SET revoked_ms = ? WHERE id = ? AND federation_id = ? AND revoked_ms IS NULL').run(now, siteId, federationId);
      this.store.db.prepare('UPDATE tokens SET revoked_ms = ? WHERE subject = ? AND revoked_ms IS NULL').run(now, siteId);
      if (Number(changed.changes) === 0) {
        const known = this.store.db.prepare('SELECT id FROM sites WHERE id = ? AND federation_id = ?').get(siteId, federationId);
        if (!known) throw new ConclaveError('NOT_FOUND', `site ${siteId} is not enrolled in federation ${federationId}`);
        return false;
      }
      return true;
    });
  }
}

export function siteNames(store: Store, federationId: string): Map<string, string> {
  const rows = store.db.prepare('SELECT id, name FROM sites WHERE federation_id = ?').all(federationId) as Array<{ id: string; name: string }>;
  return new Map(rows.map((r) => [r.id, r.name]));
}
