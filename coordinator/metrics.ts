/**
 * Prometheus metrics for operators (`coordinator start --metrics-port P`, GET /metrics).
 *
 * Each coordinator owns its own prom-client Registry (several coordinators share one process in
 * tests and in `simulate`). What can be read from the store (rounds by state and stage, ε spent) is
 * read on scrape, so there is one source of truth and no counter to keep in step with it; what
 * happens only once (a round ending, a refused call, bytes on the wire) is counted as it happens.
 *
 * Labels never carry attacker-controlled text: RPC names come from the service definition, status
 * names from grpc-js, federation ids are the coordinator's own UUIDs.
 *
 * Under differential privacy the number of sites that answered or contributed in a round is not
 * released (round-privacy.ts, aggregateReleaseEntry: the adaptive-clip count's sensitivity assumes it
 * stays hidden), and any counter that moves with it gives it away to whoever scrapes twice, once
 * before and once after a round. So the calls of a DP federation's sites (their RPCs, statuses and
 * message bytes), the sites themselves (in sites connected: a sampled site stops polling while it
 * trains), the bytes of admin calls about it (a round's message lists its sites) and its aggregation
 * times (which grow with the number of updates) are left out of every family; what is exported for
 * them is what the store already says per round (state, stage, durations) and the ledger's ε. The
 * endpoint itself wants a bearer token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ConclaveError, participantServiceDefinition } from '../protocols/index.ts';
import { writeAtomic } from './keys.ts';
import type { RoundRecord } from './round-store.ts';
import type { Store } from './store.ts';

const STATUS_NAMES = new Map<number, string>(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

const PARTICIPANT_PATHS = new Set(Object.values(participantServiceDefinition).map((m) => m.path));

/** Round durations run from seconds (tests, tiny models) to the default one-hour deadline. */
const ROUND_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly roundDuration: Histogram<'outcome'>;
  private readonly stageDuration: Histogram<'stage'>;
  private readonly aggregation: Histogram<never>;
  private readonly roundsEnded: Counter<'outcome'>;
  private readonly rpcs: Counter<'rpc' | 'status'>;
  private readonly refused: Counter<'rpc' | 'status'>;
  private readonly bytesIn: Counter<'rpc'>;
  private readonly bytesOut: Counter<'rpc'>;
  /** Round id → (stage, when it started), to time each stage from the round events. */
  private readonly stageStarts = new Map<string, { stage: string; startedMs: number }>();
  /** Message → its size on the wire, from the (de)serializers to the interceptor that knows whose call it is. */
  private readonly receivedSizes = new WeakMap<object, number>();
  private readonly sentSizes = new WeakMap<object, number>();
  /** Federation id → whether it has DP; only ids the store knows (a forged token's claim is not kept). */
  private readonly privateFederations = new Map<string, boolean>();
  private readonly store: Store;

  constructor(deps: { store: Store; connectedSites: (include: (siteId: string) => boolean) => number; now?: () => number }) {
    const registry = this.registry;
    const now = deps.now ?? Date.now;
    collectDefaultMetrics({ register: registry, prefix: 'conclave_' });
    const store = deps.store;
    this.store = store;
    new Gauge({
      name: 'conclave_rounds', help: 'Rounds by state and protocol stage (stage is empty for rounds that ended before their first stage).',
      labelNames: ['state', 'stage'], registers: [registry],
      collect() {
        this.reset();
        const rows = store.db.prepare('SELECT state, COALESCE(stage, \'\') AS stage, COUNT(*) AS n FROM rounds GROUP BY state, stage').all() as Array<{ state: string; stage: string; n: number }>;
        for (const r of rows) this.set({ state: r.state, stage: r.stage }, r.n);
      },
    });
    new Gauge({
      name: 'conclave_epsilon_spent', help: 'ε spent per federation (the privacy ledger\'s last entry, at the federation\'s δ).',
      labelNames: ['federation'], registers: [registry],
      collect() {
        this.reset();
        const rows = store.db.prepare(`SELECT e.federation_id AS id, e.payload_json AS payload FROM ledger_entries e
          WHERE e.seq = (SELECT MAX(seq) FROM ledger_entries WHERE federation_id = e.federation_id)`).all() as Array<{ id: string; payload: string }>;
        for (const r of rows) {
          // A payload that does not parse is the ledger audit's business; the gauge just leaves it out.
          const epsilon = (safeJson(r.payload) as { epsilonAfter?: { epsilon?: unknown } } | null)?.epsilonAfter?.epsilon;
          if (typeof epsilon === 'number') this.set({ federation: r.id }, epsilon);
        }
      },
    });
    new Gauge({
      name: 'conclave_sites_connected', help: 'Enrolled sites of federations without DP that called the participant service within the availability window.',
      registers: [registry],
      collect() {
        const hidden = new Set((store.db.prepare(`SELECT s.id FROM sites s JOIN federations f ON f.id = s.federation_id WHERE ${PRIVACY_TRACE_SQL}`).all() as Array<{ id: string }>).map((r) => r.id));
        this.set(deps.connectedSites((siteId) => !hidden.has(siteId)));
      },
    });
    this.roundDuration = new Histogram({ name: 'conclave_round_duration_seconds', help: 'Wall time from a round\'s opening to its commit or abort.', labelNames: ['outcome'], buckets: ROUND_BUCKETS, registers: [registry] });
    this.stageDuration = new Histogram({ name: 'conclave_stage_duration_seconds', help: 'Wall time of each protocol stage.', labelNames: ['stage'], buckets: ROUND_BUCKETS, registers: [registry] });
    this.aggregation = new Histogram({ name: 'conclave_aggregation_seconds', help: 'Unprotect, aggregate and server optimizer step of a round, for federations without DP.', buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry] });
    this.roundsEnded = new Counter({ name: 'conclave_rounds_ended_total', help: 'Rounds that ended, by outcome.', labelNames: ['outcome'], registers: [registry] });
    this.rpcs = new Counter({ name: 'conclave_rpcs_total', help: 'Completed RPCs by method and gRPC status.', labelNames: ['rpc', 'status'], registers: [registry] });
    this.refused = new Counter({ name: 'conclave_rpcs_refused_total', help: 'RPCs answered with a non-OK gRPC status, by method and status.', labelNames: ['rpc', 'status'], registers: [registry] });
    this.bytesIn = new Counter({ name: 'conclave_received_bytes_total', help: 'Serialized request message bytes received, by method.', labelNames: ['rpc'], registers: [registry] });
    this.bytesOut = new Counter({ name: 'conclave_sent_bytes_total', help: 'Serialized response message bytes sent, by method.', labelNames: ['rpc'], registers: [registry] });
    this.now = now;
  }

  private readonly now: () => number;

  /** Every state change of a round (RoundManager's 'round' event). */
  onRound(record: RoundRecord): void {
    const previous = this.stageStarts.get(record.id);
    const nowMs = this.now();
    const ended = record.state === 'committed' || record.state === 'aborted';
    if (previous && (ended || previous.stage !== record.stage)) {
      this.stageDuration.observe({ stage: previous.stage }, Math.max(0, nowMs - previous.startedMs) / 1000);
      this.stageStarts.delete(record.id);
    }
    if (ended) {
      this.roundsEnded.inc({ outcome: record.state });
      this.roundDuration.observe({ outcome: record.state }, Math.max(0, (record.closedMs ?? nowMs) - record.openedMs) / 1000);
    } else if (record.stage && previous?.stage !== record.stage) {
      this.stageStarts.set(record.id, { stage: record.stage, startedMs: nowMs });
    }
  }

  /** Not for a DP federation: the time to sum a round's updates grows with how many there were. */
  onAggregated(seconds: number, federationId: string): void {
    if (!this.isPrivateFederation(federationId)) this.aggregation.observe(seconds);
  }

  /**
   * A server interceptor that counts every call's final status and message bytes, except a DP
   * federation's sites' calls (not at all) and admin calls about it (not their bytes). Which federation
   * a site's call is for is read from its token's claim without verifying it (the handler verifies): a
   * forged claim only decides whether the forger's own refused call is counted.
   */
  interceptor(): grpc.ServerInterceptor {
    return (method, call) => {
      const rpc = methodName(method.path);
      const participant = PARTICIPANT_PATHS.has(method.path);
      // grpc-js always delivers the metadata first; until then nothing is known to be countable.
      let counted = !participant;
      // An admin call about a DP federation counts, but not its bytes: a round's message lists its sites.
      let bytesCounted = counted;
      return new grpc.ServerInterceptingCall(call, {
        start: (next) => next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            if (participant) bytesCounted = counted = !this.isPrivateFederation(claimedFederation(metadata));
            nextMetadata(metadata);
          },
          onReceiveMessage: (message, nextMessage) => {
            const federationId = (message as { federationId?: unknown } | null)?.federationId;
            if (!participant && typeof federationId === 'string' && this.isPrivateFederation(federationId)) bytesCounted = false;
            const bytes = typeof message === 'object' && message !== null ? this.receivedSizes.get(message) : undefined;
            if (bytesCounted && bytes !== undefined) this.bytesIn.inc({ rpc }, bytes);
            nextMessage(message);
          },
        }),
        // The base call serializes synchronously inside next (this interceptor is the one next to it).
        sendMessage: (message, next) => {
          next(message);
          const bytes = typeof message === 'object' && message !== null ? this.sentSizes.get(message) : undefined;
          if (bytesCounted && bytes !== undefined) this.bytesOut.inc({ rpc }, bytes);
        },
        sendStatus: (status, next) => {
          if (counted) {
            const name = STATUS_NAMES.get(status.code) ?? String(status.code);
            this.rpcs.inc({ rpc, status: name });
            if (status.code !== grpc.status.OK) this.refused.inc({ rpc, status: name });
          }
          next(status);
        },
      });
    };
  }

  /**
   * The service definition with its (de)serializers wrapped to note each message's size on the wire,
   * without touching the handlers; the interceptor counts it once it knows whose call it is.
   */
  countBytes<T extends grpc.ServiceDefinition>(definition: T): T {
    const counted: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [key, method] of Object.entries(definition) as Array<[string, grpc.MethodDefinition<unknown, unknown>]>) {
      counted[key] = {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          const value = method.requestDeserialize(bytes);
          if (typeof value === 'object' && value !== null) this.receivedSizes.set(value, bytes.length);
          return value;
        },
        responseSerialize: (value: unknown) => {
          const bytes = method.responseSerialize(value);
          if (typeof value === 'object' && value !== null) this.sentSizes.set(value, bytes.length);
          return bytes;
        },
      };
    }
    return counted as T;
  }

  /** Whether a federation has (or ever had) DP; unknown ids are not private, and not remembered. */
  private isPrivateFederation(federationId: string | null): boolean {
    if (federationId === null) return false;
    const known = this.privateFederations.get(federationId);
    if (known !== undefined) return known;
    const row = this.store.db.prepare(`SELECT ${PRIVACY_TRACE_SQL} AS dp FROM federations f WHERE f.id = ?`).get(federationId) as { dp: number } | undefined;
    if (!row) return false;
    this.privateFederations.set(federationId, row.dp === 1);
    return row.dp === 1;
  }

  /**
   * Serves GET /metrics (and nothing else) until closed, to requests that bear `token`
   * (`authorization: Bearer TOKEN`, what Prometheus sends with `authorization: credentials_file`).
   */
  async serve(host: string, port: number, token: string): Promise<{ port: number; close(): Promise<void> }> {
    const expected = digest(token);
    const server: Server = createServer((req, res) => {
      if (!bearerMatches(req, expected)) {
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="conclave-metrics"' })
          .end('unauthorized: send "authorization: Bearer <the metrics token>" (coordinator start --metrics-token-file)\n');
        return;
      }
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return {
      port: typeof address === 'object' && address ? address.port : port,
      close: () => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    };
  }
}

/**
 * Which federations count as private: configured with DP, or with any trace of it in the ledger or a
 * round (the same test as the ledger check at start). Over `federations f`.
 */
export const PRIVACY_TRACE_SQL = `(json_extract(f.config_json, '$.privacy') IS NOT NULL
  OR EXISTS (SELECT 1 FROM ledger_entries e WHERE e.federation_id = f.id)
  OR EXISTS (SELECT 1 FROM rounds r WHERE r.federation_id = f.id AND r.privacy_json IS NOT NULL))`;

/** A token shorter than this is refused: 16 characters of base64url are 96 bits. */
const MIN_TOKEN_LENGTH = 16;

/**
 * The metrics token: read from `path` (the operator's own file, the one Prometheus's
 * `credentials_file` names too), or, when `create` and there is none yet, 32 random bytes written
 * there (0600). The admin token is not reused: a scraper would then hold the power to enrol sites.
 */
export function loadOrCreateMetricsToken(path: string, create: boolean): { path: string; token: string } {
  if (!existsSync(path)) {
    if (!create) throw new ConclaveError('INVALID_ARGUMENT', `metrics token file ${path} does not exist: write a token of at least ${MIN_TOKEN_LENGTH} characters there, or leave out --metrics-token-file for DATA_DIR/metrics.token`);
    writeAtomic(path, randomBytes(32).toString('base64url') + '\n');
  }
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConclaveError('INVALID_ARGUMENT', `cannot read the metrics token file ${path}: ${(err as Error).message}`);
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConclaveError('INVALID_ARGUMENT', `metrics token file ${path} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces (it has ${token.length} characters)`);
  }
  return { path, token };
}

/** The `fed` claim of a call's bearer token, unverified; null when there is none to read. */
function claimedFederation(metadata: grpc.Metadata): string | null {
  const header = metadata.get('authorization')[0];
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  try {
    const fed = decodeJwt(header.slice('Bearer '.length).trim())['fed'];
    return typeof fed === 'string' ? fed : null;
  } catch {
    return null;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares digests of equal length, so neither the token's length nor its prefix shows in the timing. */
function bearerMatches(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !/^Bearer /i.test(header)) return false;
  return timingSafeEqual(digest(header.slice('Bearer '.length).trim()), expected);
}

function methodName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
