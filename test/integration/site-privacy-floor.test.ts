import { afterEach, describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { loadMnist, trainTestSplit } from '../../client-sdk/data/mnist.ts';
import { subset, type Dataset } from '../../client-sdk/data/dataset.ts';
import { callUnary, downloadModel, getTask, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import { analyticGaussianSigma, gaussianEpsilon } from '../../crypto/dp/index.ts';
import type { FederationConfigInput } from '../../coordinator/federation-config.ts';
import type { RoundMsg, RoundPlanMsg } from '../../protocols/index.ts';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { until } from '../helpers/wait.ts';
import { runCli } from '../helpers/processes.ts';

type PrivacyInput = NonNullable<FederationConfigInput['privacy']>;
const DELTA = 1e-5;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

let data: Dataset | null = null;
/** 64 real MNIST digits: enough for one quick local epoch. */
function siteData(): Dataset {
  data ??= subset(trainTestSplit(loadMnist(), { seed: 1 }).train, Array.from({ length: 64 }, (_, i) => i));
  return data;
}

async function federation(options: { sites: number; rounds: number; minSites: number; roundDeadlineMs?: number; privacy: PrivacyInput; protection?: FederationConfigInput['protection'] }): Promise<TestFederation & { dataDir: string }> {
  const { dir, cleanup } = tempDataDir('conclave-site-floor-');
  cleanups.push(cleanup);
  const fx = await startTestFederation({ dataDir: dir, ...options });
  cleanups.push(async () => {
    fx.admin.close();
    await fx.coordinator.close();
  });
  return { ...fx, dataDir: dir };
}

async function drain(events: AsyncGenerator<ParticipantEvent>): Promise<ParticipantEvent[]> {
  const seen: ParticipantEvent[] = [];
  for await (const e of events) seen.push(e);
  return seen;
}

async function planFor(address: string, token: string): Promise<RoundPlanMsg> {
  const client = participantClient(address);
  try {
    for (let i = 0; i < 100; i++) {
      const task = await getTask(client, token, 2000);
      if (task.task === 'round') return task.round;
    }
    throw new Error('no round plan');
  } finally {
    client.close();
  }
}

interface SubmissionRow { site_id: string; num_examples: number; train_loss: number; train_accuracy: number }
const submissions = (fx: TestFederation, roundId: string) => fx.coordinator.store.db
  .prepare('SELECT site_id, num_examples, train_loss, train_accuracy FROM submissions WHERE round_id = ? ORDER BY site_id').all(roundId) as unknown as SubmissionRow[];
const cli = (args: string[]) => runCli(args);

const rounds = async (fx: TestFederation) =>
  (await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId: fx.federation.id }, fx.coordinator.adminToken)).rounds;

describe('a site holds the coordinator to its own privacy floor (real gRPC)', () => {
  test('a plan below the floor is refused before training: the site downloads nothing, submits nothing, and keeps polling to the end', async () => {
    // Central DP at σ = 1; site 0 will not take part below σ = 2. Quorum 1: site 1 alone commits the round at its deadline.
    const fx = await federation({
      sites: 2, rounds: 1, minSites: 1, roundDeadlineMs: 3_000,
      privacy: { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    const [floored, honest] = fx.sites;
    const run = drain(new Participant({
      coordinator: fx.coordinator.address, token: floored!.token, data: siteData(), backend: 'cpu', pollWaitMs: 500,
      privacyFloor: { minNoiseMultiplier: 2 },
    }).run());

    const plan = await planFor(fx.coordinator.address, honest!.token);
    expect(plan.dp).toMatchObject({ mode: 'central', noiseMultiplier: 1, clipNorm: 1 });
    const client = participantClient(fx.coordinator.address);
    try {
      const model = await downloadModel(client, honest!.token, { federationId: fx.federation.id, version: plan.modelVersion });
      await submitUpdate(client, honest!.token, {
        roundId: plan.roundId, numExamples: 10, layout: model.layout, values: new Float32Array(model.values.length).fill(1e-4), trainLoss: 1, trainAccuracy: 0.5,
      });
    } finally {
      client.close();
    }

    const events = await run;
    const refused = events.filter((e) => e.type === 'round-refused');
    expect(refused).toEqual([{
      type: 'round-refused', round: 1, roundId: plan.roundId, reason: 'noise-below-floor', message: expect.stringMatching(/noise multiplier 1 is below this site's floor 2/),
    }]);
    expect(events.map((e) => e.type)).not.toContain('model-downloaded');
    expect(events.map((e) => e.type)).not.toContain('trained');
    expect(events.map((e) => e.type)).not.toContain('submitted');
    expect(events.at(-1)).toMatchObject({ type: 'finished', finalModelVersion: 1 });

    const [round] = await rounds(fx);
    expect(round).toMatchObject({ id: plan.roundId, state: 'committed' });
    expect(round!.submittedSites).toEqual([honest!.siteId]);
    expect(submissions(fx, plan.roundId).map((s) => s.site_id)).toEqual([honest!.siteId]);
  });

  test('under local DP only the privatized update leaves the site, its own budget stops it, and a restart keeps counting', async () => {
    const LOCAL_EPSILON = 2;
    const fx = await federation({
      sites: 1, rounds: 3, minSites: 1,
      privacy: { mode: 'local', noiseMultiplier: null, localEpsilon: LOCAL_EPSILON, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    // What one local release costs at sensitivity 2C, and a site budget half-way between one release and two.
    const sigma = analyticGaussianSigma(LOCAL_EPSILON, DELTA, 1);
    const budget = (LOCAL_EPSILON + gaussianEpsilon(sigma / Math.SQRT2, DELTA)) / 2;
    const stateFile = join(fx.dataDir, 'site-privacy.json');
    const privacyFloor = { minNoiseMultiplier: 1, maxClipNorm: 1, budgetEpsilon: budget, delta: DELTA, modes: ['local' as const], stateFile };
    const site = () => new Participant({ coordinator: fx.coordinator.address, token: fx.sites[0]!.token, data: siteData(), backend: 'cpu', pollWaitMs: 500, privacyFloor });

    const events = await drain(site().run());
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'submitted')).toHaveLength(1);
    // Charged before it was sent.
    expect(types.indexOf('privacy-charged')).toBeLessThan(types.indexOf('submitted'));
    const charged = events.find((e) => e.type === 'privacy-charged');
    expect(charged).toMatchObject({ round: 1, privacy: { releases: 1, budgetEpsilon: budget, delta: DELTA } });
    expect(Math.abs((charged as Extract<ParticipantEvent, { type: 'privacy-charged' }>).noiseMultiplier / sigma - 1)).toBeLessThan(1e-9);
    expect(events.at(-2)).toMatchObject({ type: 'round-refused', round: 2, reason: 'site-budget-exhausted' });
    expect(events.at(-1)).toMatchObject({ type: 'site-budget-exhausted', round: 2, privacy: { releases: 1 } });
    // Nothing in the local event stream carries the update itself.
    expect(JSON.stringify(events)).not.toMatch(/values|delta"\s*:\s*\[/);

    const [first, second] = await rounds(fx);
    expect(first).toMatchObject({ number: 1, state: 'committed' });
    // What the coordinator stored from the site: the update, and no count, loss or accuracy.
    expect(submissions(fx, first!.id)).toEqual([{ site_id: fx.sites[0]!.siteId, num_examples: 0, train_loss: 0, train_accuracy: 0 }]);
    expect(second).toMatchObject({ number: 2, state: 'collecting' });
    expect(submissions(fx, second!.id)).toEqual([]);

    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { releases: Array<{ roundId: string; sampleRate: number }> };
    expect(state.releases).toEqual([expect.objectContaining({ roundId: first!.id, sampleRate: 1 })]);

    // The site restarts: its state file says the budget is spent, so round 2 is refused without training.
    const restarted = await drain(site().run());
    expect(restarted.map((e) => e.type)).toEqual(['backend', 'round-started', 'round-refused', 'site-budget-exhausted']);
    expect(submissions(fx, second!.id)).toEqual([]);
  });

  test('under distributed DP (secure aggregation) the coordinator\'s real plan passes the site\'s own checks, and the sites withhold their metrics', async () => {
    const fx = await federation({
      sites: 3, rounds: 1, minSites: 3, protection: { kind: 'secagg' },
      privacy: { mode: 'distributed', noiseMultiplier: 1.5, localEpsilon: null, clipNorm: 0.5, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    const runs = await Promise.all(fx.sites.map((s) => drain(new Participant({
      coordinator: fx.coordinator.address, token: s.token, data: siteData(), backend: 'cpu', pollWaitMs: 500,
      privacyFloor: { minNoiseMultiplier: 0.4, maxClipNorm: 1, budgetEpsilon: 20, delta: DELTA, modes: ['distributed'] },
    }).run())));
    for (const events of runs) {
      expect(events.filter((e) => e.type === 'round-refused')).toEqual([]);
      // Each site's noise share σC/√3 (a multiplier of σ/(2√3) against its floor), charged to its own
      // accountant as the round's distributed discrete Gaussian: the ledger's ε for the round.
      const charged = events.find((e) => e.type === 'privacy-charged') as Extract<ParticipantEvent, { type: 'privacy-charged' }>;
      expect(Math.abs(charged.noiseMultiplier / (1.5 / (2 * Math.sqrt(3))) - 1)).toBeLessThan(1e-9);
      const [entry] = (fx.coordinator.store.db.prepare('SELECT payload_json FROM ledger_entries ORDER BY seq').all() as Array<{ payload_json: string }>)
        .map((r) => JSON.parse(r.payload_json) as { event: unknown; epsilonAfter: { epsilon: number } });
      expect(entry).toMatchObject({ event: { mechanism: 'ddg', clients: 3 } });
      expect(charged.privacy.epsilonSpent).toBeCloseTo(entry!.epsilonAfter.epsilon, 9);
      expect(events.at(-1)).toMatchObject({ type: 'finished', finalModelVersion: 1 });
    }
    const [round] = await rounds(fx);
    expect(round).toMatchObject({ state: 'committed' });
    expect(submissions(fx, round!.id).map(({ site_id: _s, ...metrics }) => metrics)).toEqual(Array.from({ length: 3 }, () => ({ num_examples: 0, train_loss: 0, train_accuracy: 0 })));
  });
});

describe('participant run: the floor on the command line', () => {
  const site = ['participant', 'run', '--coordinator', '127.0.0.1:1', '--token', 'x', '--dataset', 'mnist', '--sites', '2', '--site-index', '0'];

  test('a floor flag that is not a number is a usage error (2); one the schema refuses is invalid input (3), naming the flag', async () => {
    const [nan, noDelta, badMode, badDelta] = await Promise.all([
      cli([...site, '--min-noise-multiplier', 'lots']),
      cli([...site, '--site-budget', '2']),
      cli([...site, '--allow-modes', 'local,secagg']),
      cli([...site, '--site-budget', '2', '--site-delta', '1.5']),
    ]);
    expect(nan).toMatchObject({ code: 2, stderr: expect.stringMatching(/--min-noise-multiplier must be a number, got "lots"/) });
    expect(noDelta).toMatchObject({ code: 3, stderr: expect.stringMatching(/--site-delta: a site budget needs the site's delta/) });
    expect(badMode).toMatchObject({ code: 3, stderr: expect.stringMatching(/--allow-modes \(central, distributed, local\)/) });
    expect(badDelta).toMatchObject({ code: 3, stderr: expect.stringMatching(/--site-delta/) });
  });

  test('a privacy state file that does not validate stops the site with invalid input (3)', async () => {
    const { dir, cleanup } = tempDataDir('conclave-site-floor-cli-');
    cleanups.push(cleanup);
    const stateFile = join(dir, 'state.json');
    writeFileSync(stateFile, '{"format":"conclave-site-privacy/1","releases":[{"noiseMultiplier":-1}]}');
    const run = await cli([...site, '--site-budget', '2', '--site-delta', '1e-5', '--privacy-state', stateFile]);
    expect(run).toMatchObject({ code: 3, stderr: expect.stringMatching(/privacy state file .* is not a conclave-site-privacy\/1 file/) });
  });

  test('--json reports the rounds the site refused, and why', async () => {
    const fx = await federation({
      sites: 2, rounds: 1, minSites: 1, roundDeadlineMs: 3_000,
      privacy: { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: DELTA },
    });
    const run = cli(['participant', 'run', '--coordinator', fx.coordinator.address, '--token', fx.sites[0]!.token, '--dataset', 'mnist',
      '--sites', '2', '--site-index', '0', '--backend', 'cpu', '--max-clip', '0.5', '--json']);
    // The round opens once both sites have called (or, after its 3 s deadline, with the quorum of
    // one): wait for the site process, which loads tfjs and MNIST first, so round 1 includes it.
    await until('the site process to call the coordinator', async () => {
      const { sites } = await callUnary<{ sites: Array<{ siteId: string; lastSeenUnixMs: number }> }>(fx.admin, 'ListSites', { federationId: fx.federation.id }, fx.coordinator.adminToken);
      return sites.find((s) => s.siteId === fx.sites[0]!.siteId && s.lastSeenUnixMs > 0);
    }, 60_000);
    const plan = await planFor(fx.coordinator.address, fx.sites[1]!.token);
    const client = participantClient(fx.coordinator.address);
    try {
      const model = await downloadModel(client, fx.sites[1]!.token, { federationId: fx.federation.id, version: plan.modelVersion });
      await submitUpdate(client, fx.sites[1]!.token, {
        roundId: plan.roundId, numExamples: 10, layout: model.layout, values: new Float32Array(model.values.length), trainLoss: 1, trainAccuracy: 0.5,
      });
    } finally {
      client.close();
    }
    const { code, stdout, stderr } = await run;
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as { outcome: string; refusals: Array<{ round: number; reason: string }>; last: { type: string } };
    expect(summary).toMatchObject({ outcome: 'finished', refusals: [{ type: 'round-refused', round: 1, reason: 'clip-above-max' }], last: { type: 'finished' } });
    expect(stderr).toMatch(/"type":"round-refused"/);
    expect(submissions(fx, plan.roundId).map((s) => s.site_id)).toEqual([fx.sites[1]!.siteId]);
  });
});
