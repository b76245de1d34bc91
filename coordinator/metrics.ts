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
 */
import { createServer, type Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RoundRecord } from './round-store.ts';
import type { Store } from './store.ts';

const STATUS_NAMES = new Map<number, string>(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

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

  constructor(deps: { store: Store; connectedSites: () => number; now?: () => number }) {
    const registry = this.registry;
    const now = deps.now ?? Date.now;
    collectDefaultMetrics({ register: registry, prefix: 'conclave_' });
    const store = deps.store;
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
      name: 'conclave_sites_connected', help: 'Enrolled sites that called the participant service within the availability window.',
      registers: [registry], collect() { this.set(deps.connectedSites()); },
    });
    this.roundDuration = new Histogram({ name: 'conclave_round_duration_seconds', help: 'Wall time from a round\'s opening to its commit or abort.', labelNames: ['outcome'], buckets: ROUND_BUCKETS, registers: [registry] });
    this.stageDuration = new Histogram({ name: 'conclave_stage_duration_seconds', help: 'Wall time of each protocol stage.', labelNames: ['stage'], buckets: ROUND_BUCKETS, registers: [registry] });
    this.aggregation = new Histogram({ name: 'conclave_aggregation_seconds', help: 'Unprotect, aggregate, DP post-processing and server optimizer step of a round.', buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry] });
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

  onAggregated(seconds: number): void {
    this.aggregation.observe(seconds);
  }

  /** A server interceptor that counts every call's final status. */
  interceptor(): grpc.ServerInterceptor {
    return (method, call) => new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        const rpc = methodName(method.path);
        const name = STATUS_NAMES.get(status.code) ?? String(status.code);
        this.rpcs.inc({ rpc, status: name });
        if (status.code !== grpc.status.OK) this.refused.inc({ rpc, status: name });
        next(status);
      },
    });
  }

  /**
   * The service definition with its (de)serializers wrapped to count message bytes: the sizes of the
   * messages as they cross the wire, without touching the handlers.
   */
  countBytes<T extends grpc.ServiceDefinition>(definition: T): T {
    const counted: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [key, method] of Object.entries(definition) as Array<[string, grpc.MethodDefinition<unknown, unknown>]>) {
      const rpc = methodName(method.path);
      counted[key] = {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          this.bytesIn.inc({ rpc }, bytes.length);
          return method.requestDeserialize(bytes);
        },
        responseSerialize: (value: unknown) => {
          const bytes = method.responseSerialize(value);
          this.bytesOut.inc({ rpc }, bytes.length);
          return bytes;
        },
      };
    }
    return counted as T;
  }

  /** Serves GET /metrics (and nothing else) until closed. */
  async serve(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
    const server: Server = createServer((req, res) => {
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
