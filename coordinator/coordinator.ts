import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SERVER_OPTIONS, adminServiceDefinition, participantServiceDefinition, widenServerWindows, ConclaveError } from '../protocols/index.ts';
import { Store } from './store.ts';
import { ModelRegistry } from './model-registry.ts';
import { Authenticator } from './auth.ts';
import { Federations } from './federations.ts';
import { DEFAULT_PROTOCOLS, RoundManager } from './rounds.ts';
import { noneProtocol } from './protection/none.ts';
import type { RateLimits, StreamLimits, UpdateLimits } from './limits.ts';
import type { ProtectionProtocol } from './protection/protocol.ts';
import { PrivacyLedger } from './privacy/ledger.ts';
import { describeProblem } from './privacy/ledger-audit.ts';
import { adminHandlers, participantHandlers } from './services.ts';
import { createAdminToken, loadOrCreateKeys, removeStaleTempFiles, writeAtomic } from './keys.ts';
import { createLogger, type Logger } from './logger.ts';
import { setFoldThreads } from './aggregation/fold-threads.ts';
import { CoordinatorMetrics, PRIVACY_TRACE_SQL, loadOrCreateMetricsToken } from './metrics.ts';

export interface CoordinatorOptions {
  dataDir: string;
  host?: string;
  port?: number;
  log?: Logger;
  /** Serve TLS with this certificate; with clientCaPem, require client certificates signed by it (mutual TLS). */
  tls?: { certPem: Buffer; keyPem: Buffer; clientCaPem?: Buffer };
  /** The Ed25519 signing key's file, created there on first start; unset: DATA_DIR/keys/coordinator-ed25519.json. */
  signingKeyFile?: string;
  /** Serve Prometheus metrics on http://metricsHost:metricsPort/metrics (0: any free port); unset: no metrics. */
  metricsPort?: number;
  metricsHost?: string;
  /** The bearer token /metrics wants, read from this file; unset: DATA_DIR/metrics.token, created (0600) on first start. */
  metricsTokenFile?: string;
  /** Per-token call limits for sites and admins, stage-stream deadlines, update bounds (limits.ts defaults). */
  rateLimits?: RateLimits;
  adminRateLimits?: RateLimits;
  streamLimits?: StreamLimits;
  updateLimits?: UpdateLimits;
  /** Helper threads that fold large updates beside the event loop (fold-threads.ts; default cores - 1, at most 3). Process-wide. */
  foldThreads?: number;
}

export interface RunningCoordinator {
  address: string;
  port: number;
  adminTokenPath: string;
  adminToken: string;
  store: Store;
  registry: ModelRegistry;
  federations: Federations;
  rounds: RoundManager;
  ledger: PrivacyLedger;
  /** The signing key's id and RFC 7638 fingerprint, printed at start so sites and auditors can pin the key. */
  keyId: string;
  keyFingerprint: string;
  /** Federations whose ledger did not verify at start, with the problems: they admit no round. */
  invalidLedgers: Map<string, string[]>;
  /** The port /metrics is served on, when metricsPort was given. */
  metricsPort?: number;
  /** The file holding the bearer token /metrics wants, when metricsPort was given. */
  metricsTokenPath?: string;
  close(): Promise<void>;
}

/**
 * Opens (or creates) a data dir, recovers any round a crash interrupted, and serves both services.
 * Start-up order matters: recovery runs before the port opens, so no site ever sees a round that
 * the store does not know how to finish.
 */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const log = options.log ?? createLogger({ component: 'coordinator' });
  if (options.foldThreads !== undefined) setFoldThreads(options.foldThreads);
  const releaseLock = lockDataDir(options.dataDir);
  removeStaleTempFiles(options.dataDir);
  const store = new Store(options.dataDir);
  const registry = new ModelRegistry(store);
  const { keys, adminTokenPath, created, fingerprint } = await loadOrCreateKeys(options.dataDir, options.signingKeyFile ? { signingKeyFile: options.signingKeyFile } : {});
  const auth = new Authenticator(keys, store);
  if (created || !existsSync(adminTokenPath)) {
    const issued = await createAdminToken(keys);
    auth.recordIssued(issued, 'admin', 'admin', null);
    writeAtomic(adminTokenPath, issued.token + '\n');
  }
  const adminToken = readFileSync(adminTokenPath, 'utf8').trim();
  const federations = new Federations({ store, registry, keys, auth });
  const ledger = new PrivacyLedger(store, keys);
  const rounds = new RoundManager({
    store, registry, log, ledger,
    ...(options.updateLimits ? {
      updateLimits: options.updateLimits,
      protocols: new Map([...DEFAULT_PROTOCOLS, ['none', noneProtocol(options.updateLimits) as ProtectionProtocol<never>]]),
    } : {}),
    getFederation: (id) => federations.get(id), markFinished: (id, reason) => federations.markFinished(id, reason),
  });
  const aborted = rounds.recover();
  const orphans = registry.removeOrphans();
  if (aborted || orphans.length) log.warn('recovered after an unclean stop', { abortedRounds: aborted, orphanBlobsRemoved: orphans.length });
  const invalidLedgers = verifyLedgers(store, ledger, log);

  const metrics = options.metricsPort !== undefined ? new CoordinatorMetrics({ store, connectedSites: (include) => rounds.scheduler.connectedSites(include) }) : null;
  if (metrics) {
    rounds.on('round', (record) => metrics.onRound(record));
    rounds.on('aggregated', (seconds: number, federationId: string) => metrics.onAggregated(seconds, federationId));
  }
  // grpc-js nests interceptors from the first (next to the wire) to the last: the metrics' sits
  // first so it sees every status, including those the protocol's own interceptors send.
  const server = new grpc.Server({ ...SERVER_OPTIONS, ...(metrics ? { interceptors: [metrics.interceptor(), ...(SERVER_OPTIONS.interceptors ?? [])] } : {}) });
  const jwksJson = readFileSync(join(options.dataDir, 'keys', 'jwks.json'), 'utf8');
  const deps = {
    auth, federations, registry, rounds, ledger, store, log, jwksJson,
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.adminRateLimits ? { adminRateLimits: options.adminRateLimits } : {}),
    ...(options.streamLimits ? { streamLimits: options.streamLimits } : {}),
  };
  const counted = <T extends grpc.ServiceDefinition>(definition: T): T => (metrics ? metrics.countBytes(definition) : definition);
  server.addService(counted(participantServiceDefinition), participantHandlers(deps));
  server.addService(counted(adminServiceDefinition), adminHandlers(deps));
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(options.tls.clientCaPem ?? null, [{ cert_chain: options.tls.certPem, private_key: options.tls.keyPem }], options.tls.clientCaPem !== undefined)
      : grpc.ServerCredentials.createInsecure();
    server.bindAsync(`${host}:${options.port ?? 0}`, credentials, (err, bound) => {
      if (err) reject(new ConclaveError('UNAVAILABLE', `cannot listen on ${host}:${options.port ?? 0}: ${err.message}`));
      else resolve(bound);
    });
  });
  let metricsServer: Awaited<ReturnType<CoordinatorMetrics['serve']>> | null = null;
  let metricsTokenPath: string | undefined;
  try {
    if (metrics) {
      const token = loadOrCreateMetricsToken(options.metricsTokenFile ?? join(options.dataDir, 'metrics.token'), options.metricsTokenFile === undefined);
      metricsTokenPath = token.path;
      metricsServer = await metrics.serve(options.metricsHost ?? host, options.metricsPort!, token.token);
    }
  } catch (err) {
    server.forceShutdown();
    store.close();
    releaseLock();
    if (err instanceof ConclaveError) throw err;
    throw new ConclaveError('UNAVAILABLE', `cannot serve metrics on ${options.metricsHost ?? host}:${options.metricsPort}: ${(err as Error).message}`);
  }
  if (widenServerWindows(server) === 0) log.warn('grpc-js keeps its HTTP/2 servers elsewhere: uploads use the 64 KiB default window (slower)');
  rounds.start();
  const address = `${host}:${port}`;
  log.info('coordinator listening', {
    address, dataDir: options.dataDir, tls: options.tls ? (options.tls.clientCaPem ? 'mutual' : 'server') : 'off', keyId: keys.keyId, keyFingerprint: fingerprint,
  });
  return {
    address, port, adminTokenPath, adminToken, store, registry, federations, rounds, ledger, keyId: keys.keyId, keyFingerprint: fingerprint, invalidLedgers,
    ...(metricsServer ? { metricsPort: metricsServer.port, metricsTokenPath: metricsTokenPath! } : {}),
    async close() {
      rounds.stop();
      await rounds.drained();
      await metricsServer?.close();
      // Long polls and watch streams would hold a graceful shutdown open; give calls a moment, then cut.
      await Promise.race([new Promise<void>((resolve) => server.tryShutdown(() => resolve())), new Promise((resolve) => setTimeout(resolve, 1000))]);
      server.forceShutdown();
      store.close();
      releaseLock();
    },
  };
}

/**
 * Every federation with DP has its ledger verified before the port opens (which also verifies each
 * signature once, so the check before every admission only re-hashes and re-walks). A federation
 * whose ledger does not verify stays as it is in the store, for the operator to restore, but admits
 * no round: the ledger's assertIntact refuses it on every admission.
 */
function verifyLedgers(store: Store, ledger: PrivacyLedger, log: Logger): Map<string, string[]> {
  const invalid = new Map<string, string[]>();
  // Configured with DP, or with any trace of it (a config edited to drop DP does not skip the check).
  const ids = store.db.prepare(`SELECT id FROM federations f WHERE ${PRIVACY_TRACE_SQL} ORDER BY created_ms`).all() as Array<{ id: string }>;
  for (const { id } of ids) {
    const problems = ledger.problems(id);
    if (problems.length === 0) continue;
    invalid.set(id, problems.map(describeProblem));
    log.error('privacy ledger does not verify: the federation admits no rounds until the data dir is restored', {
      federation: id, problems: problems.length, first: problems.slice(0, 10).map(describeProblem),
    });
  }
  return invalid;
}

/**
 * One coordinator per data dir: two processes scheduling the same federations would both commit
 * "the next version". A lock left by a killed process (its pid is gone) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'coordinator.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new ConclaveError('FEDERATION_STATE', `data dir ${dataDir} is in use by coordinator pid ${holder}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new ConclaveError('FEDERATION_STATE', `could not lock data dir ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
