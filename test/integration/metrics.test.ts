/**
 * The operator's Prometheus endpoint, scraped while a real coordinator runs a central-DP federation
 * and then a plain one over gRPC (raw sites, so no training): every family the issue names is there
 * and moves with what actually happened, except that nothing counts the DP federation's sites or their
 * calls (a scrape before and after a round would tell how many contributed), and only a request with
 * the metrics token gets an answer.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callUnary, downloadModel, getTask, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import type { RoundMsg } from '../../protocols/index.ts';
import { addTestFederation, startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { expectGrpcError, plansFor } from '../helpers/raw-site.ts';
import { until } from '../helpers/wait.ts';

const ROUNDS = 2;
let fx: TestFederation;
let plain: Pick<TestFederation, 'federation' | 'sites'>;
let cleanup: () => void;
let modelParams = 0;
let metricsToken = '';
const dpScrapes: string[] = [];
const plainScrapes: string[] = [];
/** After the DP federation's rounds, before the plain federation's sites made any call. */
let afterDp = '';

async function scrape(path = '/metrics', token: string | null = metricsToken): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${fx.coordinator.metricsPort}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
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

/** Runs ROUNDS rounds of a federation with raw sites that each submit a small update, scraping once per round while it is open. */
async function runRounds(federationId: string, tokens: string[], scrapes: string[]): Promise<void> {
  const client = participantClient(fx.coordinator.address);
  const { layout, values } = await downloadModel(client, tokens[0]!, { federationId, version: 0 });
  modelParams = values.length;
  for (let r = 0; r < ROUNDS; r++) {
    const plans = await plansFor(fx.coordinator.address, tokens);
    scrapes.push((await scrape()).text);
    for (let i = 0; i < tokens.length; i++) {
      await submitUpdate(client, tokens[i]!, { roundId: plans[i]!.roundId, numExamples: 5, layout, values: new Float32Array(values.length).fill(1e-3), trainLoss: 0, trainAccuracy: 0 });
    }
    await until('the round to commit', async () => {
      const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId }, fx.coordinator.adminToken);
      return rounds.find((x) => x.id === plans[0]!.roundId && x.state === 'committed');
    });
  }
  client.close();
}

beforeAll(async () => {
  const { dir } = ({ cleanup } = tempDataDir('conclave-metrics-'));
  fx = await startTestFederation({
    dataDir: dir, sites: 2, rounds: ROUNDS, metricsPort: 0,
    privacy: { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5 },
  });
  metricsToken = readFileSync(fx.coordinator.metricsTokenPath!, 'utf8').trim();
  const client = participantClient(fx.coordinator.address);
  // A refused call: a token that is not one.
  await expectGrpcError(getTask(client, 'not-a-token', 0));
  client.close();
  await runRounds(fx.federation.id, fx.sites.map((s) => s.token), dpScrapes);
  plain = await addTestFederation(fx.coordinator, fx.admin, { sites: 2, rounds: ROUNDS, start: false });
  afterDp = (await scrape()).text;
  await callUnary(fx.admin, 'StartFederation', { federationId: plain.federation.id }, fx.coordinator.adminToken);
  await runRounds(plain.federation.id, plain.sites.map((s) => s.token), plainScrapes);
}, 90_000);

afterAll(async () => {
  fx?.admin.close();
  await fx?.coordinator.close();
  cleanup?.();
});

describe('coordinator start --metrics-port: GET /metrics', () => {
  test('during a round: the open round is counted by state and stage, and the plain federation\'s sites as connected', () => {
    expect(value(plainScrapes[0]!, 'conclave_rounds', { state: 'collecting', stage: 'submit' })).toBe(1);
    expect(value(plainScrapes[0]!, 'conclave_sites_connected')).toBe(2);
  });

  test('after the federations: rounds, durations, aggregation time, bytes, ε and refused RPCs', async () => {
    const { status, text, type } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(value(text, 'conclave_rounds', { state: 'committed' })).toBe(2 * ROUNDS);
    expect(value(text, 'conclave_rounds_ended_total', { outcome: 'committed' })).toBe(2 * ROUNDS);
    expect(value(text, 'conclave_round_duration_seconds_count', { outcome: 'committed' })).toBe(2 * ROUNDS);
    expect(value(text, 'conclave_stage_duration_seconds_count', { stage: 'submit' })).toBe(2 * ROUNDS);
    expect(value(text, 'conclave_aggregation_seconds_count')).toBe(ROUNDS);
    // The plain federation's model went out once (≥ 4 bytes a parameter); each of its rounds brought two uploads.
    const modelBytes = 4 * modelParams;
    expect(value(text, 'conclave_sent_bytes_total', { rpc: 'DownloadModel' })).toBeGreaterThan(modelBytes);
    expect(value(text, 'conclave_sent_bytes_total', { rpc: 'DownloadModel' })).toBeLessThan(2 * modelBytes);
    expect(value(text, 'conclave_received_bytes_total', { rpc: 'SubmitStage' })).toBeGreaterThan(2 * ROUNDS * modelBytes);
    expect(value(text, 'conclave_received_bytes_total', { rpc: 'SubmitStage' })).toBeLessThan(2 * ROUNDS * 2 * modelBytes);
    expect(value(text, 'conclave_rpcs_refused_total', { rpc: 'GetTask', status: 'UNAUTHENTICATED' })).toBe(1);
    expect(value(text, 'conclave_rpcs_total', { rpc: 'SubmitStage', status: 'OK' })).toBe(2 * ROUNDS);
    expect(value(text, 'conclave_sent_bytes_total', { rpc: 'ListRounds' })).toBeGreaterThan(0);
    const { entries } = await callUnary<{ entries: Array<{ payloadJson: string }> }>(fx.admin, 'GetLedger', { federationId: fx.federation.id }, fx.coordinator.adminToken);
    const claimed = (JSON.parse(entries.at(-1)!.payloadJson) as { epsilonAfter: { epsilon: number } }).epsilonAfter.epsilon;
    expect(value(text, 'conclave_epsilon_spent', { federation: fx.federation.id })).toBeCloseTo(claimed, 9);
    expect(value(text, 'conclave_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('a DP federation\'s sites and calls are counted nowhere: no scrape tells how many contributed to a round', () => {
    // Its rounds ran (and are counted as rounds), but none of its sites' calls or bytes moved a counter.
    expect(value(afterDp, 'conclave_rounds', { state: 'committed' })).toBe(ROUNDS);
    expect(value(dpScrapes[0]!, 'conclave_rounds', { state: 'collecting', stage: 'submit' })).toBe(1);
    for (const text of [...dpScrapes, afterDp]) {
      expect(value(text, 'conclave_sites_connected')).toBe(0);
      for (const rpc of ['GetTask', 'SubmitStage', 'SubmitUpdate', 'DownloadModel']) {
        expect(text).not.toMatch(new RegExp(`^conclave_rpcs_total\\{rpc="${rpc}",status="OK"\\}`, 'm'));
        expect(text).not.toMatch(new RegExp(`^conclave_sent_bytes_total\\{rpc="${rpc}"\\}`, 'm'));
        if (rpc !== 'GetTask') expect(text).not.toMatch(new RegExp(`^conclave_received_bytes_total\\{rpc="${rpc}"\\}`, 'm'));
      }
      // The forged token's refused call still is (it names no federation), and only it.
      expect(value(text, 'conclave_rpcs_refused_total', { rpc: 'GetTask', status: 'UNAUTHENTICATED' })).toBe(1);
      expect(value(text, 'conclave_received_bytes_total', { rpc: 'GetTask' })).toBe(value(dpScrapes[0]!, 'conclave_received_bytes_total', { rpc: 'GetTask' }));
    }
    // Nor its aggregation times: summing a round's updates takes longer the more there are.
    expect(value(afterDp, 'conclave_aggregation_seconds_count')).toBe(0);
    // Admin calls about it are counted, but not their bytes (a round's message lists its sites).
    expect(value(afterDp, 'conclave_rpcs_total', { rpc: 'ListRounds', status: 'OK' })).toBeGreaterThan(0);
    expect(afterDp).not.toMatch(/^conclave_(received|sent)_bytes_total\{rpc="ListRounds"\}/m);
  });

  test('without the metrics token (or with another, a prefix of it, or the admin token): 401, and nothing is served', async () => {
    for (const token of [null, 'wrong-token-wrong-token', metricsToken.slice(0, -1), `${metricsToken}x`, fx.coordinator.adminToken]) {
      const { status, text } = await scrape('/metrics', token);
      expect(status).toBe(401);
      expect(text).not.toMatch(/conclave_/);
    }
    const res = await fetch(`http://127.0.0.1:${fx.coordinator.metricsPort}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`x:${metricsToken}`).toString('base64')}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  test('anything but GET /metrics is a 404', async () => {
    expect((await scrape('/')).status).toBe(404);
    expect((await scrape('/metrics/../admin')).status).toBe(404);
  });
});
