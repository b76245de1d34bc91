/**
 * The operator's Prometheus endpoint, scraped while a real coordinator runs a central-DP federation
 * over gRPC (raw sites, so no training): every family the issue names is there and moves with what
 * actually happened.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callUnary, downloadModel, getTask, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import type { RoundMsg } from '../../protocols/index.ts';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { plansFor } from '../helpers/raw-site.ts';
import { expectGrpcError } from '../helpers/raw-site.ts';
import { until } from '../helpers/wait.ts';

const ROUNDS = 2;
let fx: TestFederation;
let cleanup: () => void;
let modelParams = 0;
const scrapesDuringRun: string[] = [];

async function scrape(path = '/metrics'): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${fx.coordinator.metricsPort}${path}`);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

/** The value of one sample, e.g. value(text, 'conclave_rounds', { state: 'committed' }); labels not named are summed over. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  if (!found) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return total;
}

beforeAll(async () => {
  const { dir } = ({ cleanup } = tempDataDir('conclave-metrics-'));
  fx = await startTestFederation({
    dataDir: dir, sites: 2, rounds: ROUNDS, metricsPort: 0,
    privacy: { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5 },
  });
  const client = participantClient(fx.coordinator.address);
  // A refused call: a token that is not one.
  await expectGrpcError(getTask(client, 'not-a-token', 0));
  const { layout, values } = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
  modelParams = values.length;
  for (let r = 0; r < ROUNDS; r++) {
    const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
    scrapesDuringRun.push((await scrape()).text);
    for (let i = 0; i < 2; i++) {
      await submitUpdate(client, fx.sites[i]!.token, { roundId: plans[i]!.roundId, numExamples: 5, layout, values: new Float32Array(values.length).fill(1e-3), trainLoss: 0, trainAccuracy: 0 });
    }
    await until('the round to commit', async () => {
      const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId: fx.federation.id }, fx.coordinator.adminToken);
      return rounds.find((x) => x.id === plans[0]!.roundId && x.state === 'committed');
    });
  }
  client.close();
}, 60_000);

afterAll(async () => {
  fx?.admin.close();
  await fx?.coordinator.close();
  cleanup?.();
});

describe('coordinator start --metrics-port: GET /metrics', () => {
  test('during a round: the open round is counted by state and stage, and the sites as connected', () => {
    const during = scrapesDuringRun[0]!;
    expect(value(during, 'conclave_rounds', { state: 'collecting', stage: 'submit' })).toBe(1);
    expect(value(during, 'conclave_sites_connected')).toBe(2);
  });

  test('after the federation: rounds, durations, aggregation time, bytes, ε and refused RPCs', async () => {
    const { status, text, type } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(value(text, 'conclave_rounds', { state: 'committed' })).toBe(ROUNDS);
    expect(value(text, 'conclave_rounds_ended_total', { outcome: 'committed' })).toBe(ROUNDS);
    expect(value(text, 'conclave_round_duration_seconds_count', { outcome: 'committed' })).toBe(ROUNDS);
    expect(value(text, 'conclave_stage_duration_seconds_count', { stage: 'submit' })).toBe(ROUNDS);
    expect(value(text, 'conclave_aggregation_seconds_count')).toBe(ROUNDS);
    // The model went out once (≥ 4 bytes a parameter); each round brought two uploads of the same size.
    const modelBytes = 4 * modelParams;
    expect(value(text, 'conclave_sent_bytes_total', { rpc: 'DownloadModel' })).toBeGreaterThan(modelBytes);
    expect(value(text, 'conclave_received_bytes_total', { rpc: 'SubmitStage' })).toBeGreaterThan(2 * ROUNDS * modelBytes);
    expect(value(text, 'conclave_rpcs_refused_total', { rpc: 'GetTask', status: 'UNAUTHENTICATED' })).toBe(1);
    expect(value(text, 'conclave_rpcs_total', { rpc: 'SubmitStage', status: 'OK' })).toBe(2 * ROUNDS);
    const { entries } = await callUnary<{ entries: Array<{ payloadJson: string }> }>(fx.admin, 'GetLedger', { federationId: fx.federation.id }, fx.coordinator.adminToken);
    const claimed = (JSON.parse(entries.at(-1)!.payloadJson) as { epsilonAfter: { epsilon: number } }).epsilonAfter.epsilon;
    expect(value(text, 'conclave_epsilon_spent', { federation: fx.federation.id })).toBeCloseTo(claimed, 9);
    expect(value(text, 'conclave_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('anything but GET /metrics is a 404', async () => {
    expect((await scrape('/')).status).toBe(404);
    expect((await scrape('/metrics/../admin')).status).toBe(404);
  });
});
