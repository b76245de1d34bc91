/**
 * A coordinator core without sockets or tfjs: the store, registry, ledger and round pipeline on a
 * manual clock, reached through the participant endpoint directly (the in-memory transport).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../coordinator/store.ts';
import { ModelRegistry } from '../../coordinator/model-registry.ts';
import { Authenticator } from '../../coordinator/auth.ts';
import { Federations } from '../../coordinator/federations.ts';
import { PrivacyLedger } from '../../coordinator/privacy/ledger.ts';
import { RoundManager, DEFAULT_PROTOCOLS } from '../../coordinator/rounds.ts';
import { ParticipantEndpoint, type SiteCaller } from '../../coordinator/participant-endpoint.ts';
import { silentLogger, type Logger } from '../../coordinator/logger.ts';
import type { Clock, Timer } from '../../coordinator/clock.ts';
import type { ProtocolRegistry } from '../../coordinator/protection/protocol.ts';
import type { FederationConfigInput } from '../../coordinator/federation-config.ts';
import { generateSigningKeys } from '../../crypto/tokens.ts';
import { TensorAssembler, chunksOf, makeHeader, type GetTaskResponseMsg, type StageHeaderMsg, type StageStreamMsg, type TensorSpec, type TypedTensor } from '../../protocols/index.ts';
import type { ParticipantTransport } from '../../client-sdk/transport.ts';
import type { Participant, ParticipantEvent } from '../../client-sdk/participant.ts';
import type { LocalTrainer } from '../../client-sdk/training/local-trainer.ts';

/** Time that moves only when the test says so; due timers run in order. */
export class ManualClock implements Clock {
  private t = 1_700_000_000_000;
  private timers: Array<{ at: number; seq: number; fn: () => void; cancelled: boolean }> = [];
  private seq = 0;

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Timer {
    const timer = { at: this.t + ms, seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => !x.cancelled && x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.t = due.at;
      due.cancelled = true;
      due.fn();
      await settle();
    }
    this.t = end;
    this.timers = this.timers.filter((x) => !x.cancelled);
    await settle();
  }
}

/** Lets pending promises and microtasks (admission, signing, commits) run to completion. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A small but real tfjs LayersModel topology: one dense layer, 3 inputs → 2 outputs. */
export const TINY_TOPOLOGY = JSON.stringify({
  class_name: 'Sequential',
  config: { name: 'tiny', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 2, batch_input_shape: [null, 3], activation: 'linear', use_bias: true } }] },
});
export const TINY_LAYOUT: TensorSpec[] = [
  { name: 'dense/kernel', shape: [3, 2], dtype: 'float32' },
  { name: 'dense/bias', shape: [2], dtype: 'float32' },
];

export interface InMemoryCoordinator {
  clock: ManualClock;
  store: Store;
  registry: ModelRegistry;
  ledger: PrivacyLedger;
  federations: Federations;
  rounds: RoundManager;
  endpoint: ParticipantEndpoint;
  close(): void;
}

export async function inMemoryCoordinator(options: { protocols?: ProtocolRegistry; log?: Logger } = {}): Promise<InMemoryCoordinator> {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-mem-'));
  const clock = new ManualClock();
  const store = new Store(dir);
  const registry = new ModelRegistry(store);
  const keys = await generateSigningKeys();
  const auth = new Authenticator(keys, store);
  const federations = new Federations({ store, registry, keys, auth });
  const ledger = new PrivacyLedger(store, keys);
  const rounds = new RoundManager({
    store, registry, log: options.log ?? silentLogger, ledger, clock, protocols: options.protocols ?? DEFAULT_PROTOCOLS,
    getFederation: (id) => federations.get(id), markFinished: (id, reason) => federations.markFinished(id, reason),
  });
  const endpoint = new ParticipantEndpoint({ federations, registry, rounds });
  return {
    clock, store, registry, ledger, federations, rounds, endpoint,
    close() {
      rounds.stop();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function tinyConfig(overrides: Partial<FederationConfigInput> = {}): FederationConfigInput {
  return {
    name: 'in-memory', model: 'mlp', rounds: 1, sitesPerRound: 3, minSites: 2, roundDeadlineMs: 1000, seed: 1, protection: { kind: 'none' },
    training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, privacy: null, ...overrides,
  } as FederationConfigInput;
}

/** Creates and starts a federation of `sites` enrolled sites on the tiny model; version 0 is all zeros. */
export async function tinyFederation(c: InMemoryCoordinator, sites: number, config: FederationConfigInput = tinyConfig()): Promise<{ id: string; sites: SiteCaller[] }> {
  const fed = await c.federations.create(config, { topologyJson: TINY_TOPOLOGY, layout: TINY_LAYOUT, values: new Float32Array(8) });
  const callers: SiteCaller[] = [];
  for (let i = 0; i < sites; i++) {
    const { siteId } = await c.federations.enrollSite(fed.id, `site-${i}`, 0);
    callers.push({ siteId, federationId: fed.id });
  }
  c.federations.start(fed.id);
  return { id: fed.id, sites: callers };
}

export async function poll(c: InMemoryCoordinator, site: SiteCaller): Promise<GetTaskResponseMsg> {
  return c.endpoint.getTask(site, 0);
}

/** Every site polls (so the scheduler sees it online), then one scheduler pass plans the next round. */
export async function openRound(c: InMemoryCoordinator, sites: SiteCaller[]): Promise<void> {
  for (const s of sites) await poll(c, s);
  c.rounds.scheduler.tick();
  await settle();
}

/** A stage header without its tensor header (which send() computes). */
export type StageEnvelope = StageHeaderMsg extends infer H ? H extends unknown ? Omit<H, 'tensor'> : never : never;

async function* stream(messages: StageStreamMsg[]): AsyncGenerator<StageStreamMsg> {
  for (const m of messages) yield m;
}

/** Sends one stage message through the endpoint, as SubmitStage would. */
export async function send(c: InMemoryCoordinator, site: SiteCaller, header: StageEnvelope, tensor?: { layout: TensorSpec[]; values: TypedTensor }) {
  const messages: StageStreamMsg[] = [{ part: 'header', header: { ...header, tensor: tensor ? makeHeader(tensor.layout, tensor.values) : null } as StageHeaderMsg }];
  if (tensor) for (const chunk of chunksOf(tensor.values)) messages.push({ part: 'chunk', chunk });
  const response = await c.endpoint.submitStage(site, stream(messages));
  await settle();
  return response;
}

/** Protocol none's `submit` stage: one update. */
export function sendUpdate(c: InMemoryCoordinator, site: SiteCaller, roundId: string, values: Float32Array, numExamples = 1) {
  return send(c, site, { roundId, stage: 'submit', body: 'update', update: { numExamples, trainLoss: 0, trainAccuracy: 0, unclipped: false } },
    { layout: TINY_LAYOUT, values });
}

export function sha256(...parts: Array<string | Buffer>): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * A Participant's transport that calls the coordinator's participant endpoint directly: a whole
 * federation in one process, no sockets. `over()` true makes GetTask answer "finished".
 */
export function inMemoryTransport(coordinator: InMemoryCoordinator, caller: SiteCaller, over: () => boolean = () => false): ParticipantTransport {
  return {
    getTask: async (waitMs) => (over()
      ? { task: 'finished', finished: { reason: 'test over', finalModelVersion: 0 } }
      : coordinator.endpoint.getTask(caller, Math.min(waitMs, 50))),
    async downloadModel({ federationId, version }) {
      const record = coordinator.registry.get(federationId, version);
      return {
        federationId, version, topologyJson: coordinator.federations.get(federationId).topologyJson, layout: record.layout,
        values: coordinator.registry.readWeights(record), sha256: Buffer.from(record.sha256),
      };
    },
    async submitStage(message) {
      const { tensor, ...envelope } = message;
      const messages: StageStreamMsg[] = [{ part: 'header', header: { ...envelope, tensor: tensor ? makeHeader(tensor.layout, tensor.values) : null } as StageHeaderMsg }];
      if (tensor) for (const chunk of chunksOf(tensor.values)) messages.push({ part: 'chunk', chunk });
      return coordinator.endpoint.submitStage(caller, stream(messages));
    },
    async downloadStageTensor(task) {
      // The same checks as over gRPC: the announced header, then chunks in order, then the digest.
      let assembler: TensorAssembler<TypedTensor> | null = null;
      for (const msg of coordinator.endpoint.stageTensor(caller, task.roundId, task.stage)) {
        if (msg.part === 'header') assembler = new TensorAssembler<TypedTensor>(msg.header, { expectedLayout: task.tensor!.layout, expectedDtype: task.tensor!.layout[0]?.dtype });
        else assembler!.push(msg.chunk);
      }
      const values = assembler!.finish();
      if (!Buffer.from(assembler!.header.sha256).equals(Buffer.from(task.tensor!.sha256))) throw new Error('the stage tensor is not the one its task announced');
      return values;
    },
    close() {},
  };
}

/** A trainer that trains nothing: every round's delta is `value` everywhere, so aggregates are known exactly. */
export function fixedTrainer(value: number | Float32Array, numExamples = 10): LocalTrainer {
  return {
    init: async () => ({ backend: 'fixed', reason: 'test trainer' }),
    async *train(global) {
      yield { kind: 'epoch', epoch: 0, loss: 0.5 };
      const delta = typeof value === 'number' ? new Float32Array(global.values.length).fill(value) : value.slice();
      return { delta, numExamples, loss: 0.5, accuracy: 0.9, steps: 1 };
    },
    dispose() {},
  };
}

/**
 * Runs every participant to its end while the test ticks the scheduler (a coordinator runs it on
 * its own timer); resolves with each site's events in order.
 */
export async function runParticipants(c: InMemoryCoordinator, participants: Participant[]): Promise<ParticipantEvent[][]> {
  const runs = participants.map(async (participant) => {
    const events: ParticipantEvent[] = [];
    for await (const e of participant.run()) events.push(e);
    return events;
  });
  const ticker = setInterval(() => c.rounds.scheduler.tick(), 10);
  try {
    return await Promise.all(runs);
  } finally {
    clearInterval(ticker);
  }
}
