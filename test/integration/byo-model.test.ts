/**
 * Bring your own model: version 0 is built by the admin client and uploaded (CreateFederation is a
 * stream: header with config, topology and tensor header, then chunks); the coordinator checks it
 * as data and never runs it. Here: a model exported from one federation starts another, bad files
 * are refused by the CLI with exit 3 before the coordinator is called, and the coordinator's own
 * checks refuse what a broken client could send.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { loadMnist } from '../../client-sdk/data/mnist.ts';
import { subset } from '../../client-sdk/data/dataset.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { exportLayersModel } from '../../client-sdk/models/export.ts';
import { getFlatWeights } from '../../client-sdk/models/weights.ts';
import { zooInitialModel } from '../../client-sdk/models/initial-model.ts';
import { adminClient, callUnary, createFederation, downloadModel, type ModelArtifacts } from '../../protocols/client.ts';
import type { FederationMsg, RoundMsg } from '../../protocols/index.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { configMessage, type FederationConfigInput } from '../../coordinator/federation-config.ts';
import { startTestFederation, tempDataDir } from '../helpers/coordinator.ts';
import { expectGrpcError } from '../helpers/raw-site.ts';
import { runCli } from '../helpers/processes.ts';

// Simulate trains in the child: give it the test's own time, not the helper's default.
const cli = (args: string[]) => runCli(args, { timeoutMs: 300_000 });

async function drain(events: AsyncGenerator<ParticipantEvent>): Promise<ParticipantEvent[]> {
  const seen: ParticipantEvent[] = [];
  for await (const e of events) seen.push(e);
  return seen;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A LayersModel written the way `conclave model export` writes one, for the error cases. */
async function writeModel(dir: string, build: () => tf.LayersModel): Promise<string> {
  await selectBackend({ prefer: 'cpu' });
  const model = build();
  try {
    const { layout, values } = getFlatWeights(model);
    return (await exportLayersModel(tf, { topologyJson: JSON.stringify(model.toJSON(undefined, false)), layout, values }, dir)).modelJson;
  } finally {
    model.dispose();
  }
}

describe('bring your own model', () => {
  test('an exported version starts a new federation: its weights are version 0, and a round trains from them', async () => {
    const { dir, cleanup } = tempDataDir('conclave-byo-');
    cleanups.push(cleanup);
    const { coordinator, admin, federation, sites } = await startTestFederation({ dataDir: dir, sites: 1, rounds: 1 });
    cleanups.push(() => coordinator.close());
    cleanups.push(() => admin.close());
    const data = subset(loadMnist(), Array.from({ length: 300 }, (_, i) => i * 33));
    const first = await drain(new Participant({ coordinator: coordinator.address, token: sites[0]!.token, data, backend: 'cpu' }).run());
    expect(first.at(-1)).toMatchObject({ type: 'finished', finalModelVersion: 1 });

    const remote = ['--coordinator', coordinator.address, '--token', coordinator.adminToken, '--json'];
    const outDir = join(dir, 'export');
    const exported = await cli(['model', 'export', '--federation', federation.id, '--version', '1', '--out', outDir, ...remote]);
    expect(exported.code, exported.stderr).toBe(0);

    const created = await cli(['federation', 'create', '--name', 'byo', '--model', join(outDir, 'model.json'), '--rounds', '1', '--sites-per-round', '1', ...remote]);
    expect(created.code, created.stderr).toBe(0);
    const byo = JSON.parse(created.stdout) as FederationMsg;
    // The stored config says where version 0 came from; the training defaults for a model of one's own were filled in by the CLI.
    expect(byo.config).toMatchObject({ name: 'byo', model: 'custom', training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' } });

    const source = await downloadModel(admin, coordinator.adminToken, { federationId: federation.id, version: 1 });
    const start = await downloadModel(admin, coordinator.adminToken, { federationId: byo.id, version: 0 });
    expect(start.layout).toEqual(source.layout);
    expect(Buffer.from(start.values.buffer).equals(Buffer.from(source.values.buffer))).toBe(true);
    expect(start.sha256.equals(source.sha256)).toBe(true);
    // …which are exactly the bytes of the exported weights file.
    expect(readFileSync(join(outDir, 'weights.bin')).equals(Buffer.from(start.values.buffer))).toBe(true);

    const site = await callUnary<{ token: string }>(admin, 'EnrollSite', { federationId: byo.id, siteName: 'byo-site' }, coordinator.adminToken);
    await callUnary(admin, 'StartFederation', { federationId: byo.id }, coordinator.adminToken);
    const second = await drain(new Participant({ coordinator: coordinator.address, token: site.token, data, backend: 'cpu' }).run());
    expect(second.filter((e) => e.type === 'model-downloaded')).toEqual([{ type: 'model-downloaded', version: 0, parameters: start.values.length }]);
    expect(second.at(-1)).toMatchObject({ type: 'finished', finalModelVersion: 1 });
    const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(admin, 'ListRounds', { federationId: byo.id }, coordinator.adminToken);
    expect(rounds.map((r) => [r.state, r.baseVersion, r.resultVersion])).toEqual([['committed', 0, 1]]);
  });

  test('files that are not a trainable LayersModel are refused by the CLI with exit 3, before any call', async () => {
    const { dir, cleanup } = tempDataDir('conclave-byo-bad-');
    cleanups.push(cleanup);
    // Nothing listens here: a refusal has to come from reading the file, not from the coordinator.
    const create = (model: string) => cli(['federation', 'create', '--name', 'bad', '--model', model, '--coordinator', '127.0.0.1:1', '--token', 'x', '--data-dir', dir]);
    const good = await writeModel(join(dir, 'good'), () => tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 10, activation: 'softmax', name: 'out' })],
    }));
    const file = (name: string, contents: string) => {
      const path = join(dir, name);
      writeFileSync(path, contents);
      return path;
    };
    mkdirSync(join(dir, 'no-weights'));
    copyFileSync(good, join(dir, 'no-weights', 'model.json'));
    mkdirSync(join(dir, 'short'));
    copyFileSync(good, join(dir, 'short', 'model.json'));
    copyFileSync(join(dir, 'good', 'weights.bin'), join(dir, 'short', 'weights.bin'));
    truncateSync(join(dir, 'short', 'weights.bin'), 1000);
    const linear = await writeModel(join(dir, 'linear'), () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, name: 'logits' })] }));
    const frozen = await writeModel(join(dir, 'frozen'), () => tf.sequential({
      layers: [tf.layers.batchNormalization({ inputShape: [784], name: 'bn' }), tf.layers.dense({ units: 10, activation: 'softmax', name: 'out' })],
    }));

    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing', 'model.json'), /model\.json: cannot read it \(ENOENT/],
      [file('text.json', 'this is not json'), /is not JSON/],
      [file('other.json', '{"hello":"world"}'), /has no "modelTopology": not a tfjs LayersModel model\.json/],
      [file('graph.json', '{"format":"graph-model","modelTopology":{"node":[]},"weightsManifest":[]}'), /tfjs graph model/],
      [file('no-manifest.json', JSON.stringify({ modelTopology: JSON.parse(readFileSync(good, 'utf8')).modelTopology })), /has no "weightsManifest"/],
      [join(dir, 'no-weights', 'model.json'), /weight file weights\.bin cannot be read \(ENOENT/],
      [join(dir, 'short', 'model.json'), /weight files hold 1000 bytes, the manifest's 2 weights need 31400 \(a missing or truncated weight file\?\)/],
      [linear, /output layer "logits" must end in a softmax/],
      [frozen, /non-trainable weights \(bn\/moving_mean, bn\/moving_variance\) are not federated/],
    ];
    const results = await Promise.all(cases.map(([model]) => create(model)));
    results.forEach((result, i) => {
      expect(result.stderr).toMatch(cases[i]![1]);
      expect(result.code, result.stderr).toBe(3);
    });
    const notAPath = await create('resnet');
    expect(notAPath).toMatchObject({ code: 2, stderr: expect.stringMatching(/--model must be one of mlp, cnn or the path of a tfjs LayersModel model\.json, got "resnet"/) });
  });

  test('simulate refuses a model that does not fit MNIST (exit 3) and trains one that takes the digits flat', async () => {
    const { dir, cleanup } = tempDataDir('conclave-byo-sim-');
    cleanups.push(cleanup);
    const wrongInput = await writeModel(join(dir, 'wrong-input'), () => tf.sequential({
      layers: [tf.layers.dense({ inputShape: [100], units: 10, activation: 'softmax', name: 'out' })],
    }));
    const wrongClasses = await writeModel(join(dir, 'wrong-classes'), () => tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [28, 28, 1], name: 'flat' }), tf.layers.dense({ units: 5, activation: 'softmax', name: 'out' })],
    }));
    const flat = await writeModel(join(dir, 'flat'), () => tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu', name: 'hidden' }), tf.layers.dense({ units: 10, activation: 'softmax', name: 'out' })],
    }));
    const simulate = (model: string, ...more: string[]) => cli(['simulate', '--sites', '2', '--rounds', '1', '--model', model, '--data-dir', join(dir, 'sim'), ...more]);
    const [input, classes] = await Promise.all([simulate(wrongInput), simulate(wrongClasses)]);
    expect(input).toMatchObject({ code: 3, stderr: expect.stringMatching(/the model's input is \[100\], MNIST examples are \[28, 28, 1\] \(784 values; a model input of \[28, 28, 1\] or \[784\] fits\)/) });
    expect(classes).toMatchObject({ code: 3, stderr: expect.stringMatching(/the model outputs \[5\], MNIST has 10 classes/) });

    const trained = await simulate(flat, '--json', '--lr', '0.01');
    expect(trained.code, trained.stderr).toBe(0);
    const summary = JSON.parse(trained.stdout) as { model: string; modelFile: string; rounds: Array<{ testAccuracy: number }> };
    expect(summary).toMatchObject({ model: 'custom', modelFile: flat });
    expect(summary.rounds).toHaveLength(1);
    // Adam at 1e-2, one epoch over 4,000 digits a site: far above chance (0.1).
    expect(summary.rounds[0]!.testAccuracy).toBeGreaterThan(0.6);
  }, 180_000);
});

describe('CreateFederation: what the coordinator checks of an uploaded version 0', () => {
  let coordinator: RunningCoordinator;
  let admin: ReturnType<typeof adminClient>;
  let cleanup: () => void;
  beforeAll(async () => {
    const tmp = tempDataDir('conclave-create-');
    cleanup = tmp.cleanup;
    coordinator = await startCoordinator({ dataDir: tmp.dir, port: 0, log: silentLogger });
    admin = adminClient(coordinator.address);
  });
  afterAll(async () => {
    admin.close();
    await coordinator.close();
    cleanup();
  });

  const config: FederationConfigInput = {
    name: 'upload', model: 'mlp', rounds: 1, sitesPerRound: 1, minSites: 1, roundDeadlineMs: 30_000, seed: 3, protection: 'none',
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' }, privacy: null,
  };
  const federations = () => (coordinator.store.db.prepare('SELECT COUNT(*) AS n FROM federations').get() as { n: number }).n;
  const upload = (model: ModelArtifacts, cfg = configMessage(config)) => createFederation(admin, coordinator.adminToken, { config: cfg, model });

  test('refuses, with INVALID_ARGUMENT and a message that says what to send, and stores nothing', async () => {
    const mlp = zooInitialModel('mlp', 3);
    const topology = JSON.parse(mlp.topologyJson) as { class_name: string; config: { layers: unknown[] } };
    const before = federations();
    // Thunks: each upload starts only when awaited, so no refusal is left unobserved in between.
    const cases: Array<[() => Promise<unknown>, string, RegExp]> = [
      [() => upload(mlp, { ...configMessage(config), training: null as never }), 'INVALID_ARGUMENT', /training is required .*"conclave federation create" fills in the recommended values/],
      [() => upload({ ...mlp, topologyJson: 'not json' }), 'INVALID_ARGUMENT', /model topology: is not JSON/],
      [() => upload({ ...mlp, topologyJson: JSON.stringify({ modelTopology: topology, weightsManifest: [] }) }), 'INVALID_ARGUMENT', /a whole model\.json; send its "modelTopology"/],
      [() => upload({ ...mlp, topologyJson: JSON.stringify({ ...topology, class_name: 'GraphModel' }) }), 'INVALID_ARGUMENT', /class_name must be one of Sequential, Model, Functional/],
      [() => upload({ ...mlp, topologyJson: JSON.stringify({ ...topology, config: { layers: [] } }) }), 'INVALID_ARGUMENT', /config\.layers must be a non-empty list/],
      [() => upload({ ...mlp, topologyJson: JSON.stringify({ ...topology, pad: 'x'.repeat(1 << 20) }) }), 'INVALID_ARGUMENT', /more than 1048576/],
      [() => upload({ ...mlp, layout: mlp.layout.map((s, i) => (i === 0 ? { ...s, name: 'conv9/kernel' } : s)) }), 'INVALID_ARGUMENT', /weight tensor "conv9\/kernel" belongs to no layer of the topology/],
      [() => upload({ ...mlp, values: mlp.values.map((v, i) => (i === 7 ? NaN : v)) }), 'NON_FINITE_VALUE', /non-finite value at element 7/],
    ];
    for (const [call, code, message] of cases) {
      const err = await expectGrpcError(call());
      expect(err.code).toBe(code);
      expect(err.details).toMatch(message);
    }
    expect(federations()).toBe(before);
  });

  test('stores what it was sent: version 0 is the uploaded weights, byte for byte', async () => {
    const mlp = zooInitialModel('mlp', 3);
    const created = await upload(mlp);
    const v0 = await downloadModel(admin, coordinator.adminToken, { federationId: created.id, version: 0 });
    expect(v0.topologyJson).toBe(mlp.topologyJson);
    expect(Buffer.from(v0.values.buffer).equals(Buffer.from(mlp.values.buffer))).toBe(true);
  });
});
