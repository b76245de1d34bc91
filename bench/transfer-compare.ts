/**
 * Before/after for model transfer in one process: two source trees (e.g. `git archive` of the
 * previous commit, and this one), each with its own coordinator on 127.0.0.1, their downloads and
 * uploads interleaved (order alternating every repetition) so load changes on a shared machine hit
 * both alike. Same calls as bench/transfer.ts: client-sdk downloadModel and submitUpdate (the timed
 * site is the first of two, so no aggregation in the timed window).
 *
 *   node_modules/.bin/node bench/transfer-compare.ts --size 16 --reps 6 --trees /tmp/before,.
 *
 * Each tree must have node_modules (a symlink to this one's is enough). Prints JSON: median MiB/s
 * per tree and direction, every run, and after/before ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import os from 'node:os';

const MiB = 1 << 20;
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const size = Number(arg('--size', '16'));
const reps = Math.max(1, Number(arg('--reps', '6')));
const trees = arg('--trees', '.').split(',').map((t) => resolve(t));
const values = new Float32Array((size * MiB) / 4);
for (let i = 0; i < values.length; i++) values[i] = (i % 1000) * 1e-6;
const layout = [{ name: 'bench/w', shape: [values.length], dtype: 'float32' }];

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- modules of another checkout

async function side(tree: string) {
  const load = (p: string): Promise<Any> => import(join(tree, p));
  const { startCoordinator } = await load('coordinator/coordinator.ts');
  const { silentLogger } = await load('coordinator/logger.ts');
  const { configMessage } = await load('coordinator/federation-config.ts');
  const { createFederation } = await load('protocols/client.ts');
  const { zooInitialModel } = await load('client-sdk/models/initial-model.ts');
  const conn = await load('client-sdk/connection.ts');
  const dataDir = mkdtempSync(join(tmpdir(), 'conclave-transfer-compare-'));
  const coordinator = await startCoordinator({ dataDir, port: 0, log: silentLogger });
  const admin = conn.adminClient(coordinator.address);
  const client = conn.participantClient(coordinator.address);
  const federation = await createFederation(admin, coordinator.adminToken, {
    config: configMessage({
      name: 'compare', model: 'mlp', rounds: 2 * reps + 4, sitesPerRound: 2, minSites: 2, roundDeadlineMs: 600_000, seed: 1, protection: 'none',
      training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' }, privacy: null,
    }),
    model: zooInitialModel('mlp', 1),
  });
  const enroll = (name: string) => conn.callUnary(admin, 'EnrollSite', { federationId: federation.id, siteName: name }, coordinator.adminToken);
  const a = await enroll('a');
  const b = await enroll('b');
  const { blobPath, sha256 } = await coordinator.registry.writeBlob(federation.id, 1, values);
  coordinator.registry.insertVersion({ federationId: federation.id, version: 1, parentVersion: 0, roundId: null, sha256, numParameters: values.length, layout, blobPath, metrics: {} });
  await conn.callUnary(admin, 'StartFederation', { federationId: federation.id }, coordinator.adminToken);
  const poll = async (token: string) => {
    for (let i = 0; i < 200; i++) {
      const task = await conn.getTask(client, token, 2_000);
      if (task.task === 'round') return task.round;
    }
    throw new Error('no round opened');
  };
  const update = (roundId: string, token: string) =>
    conn.submitUpdate(client, token, { roundId, numExamples: 1, layout, values, trainLoss: 0, trainAccuracy: 0 });
  return {
    async download(): Promise<number> {
      const t0 = performance.now();
      const model = await conn.downloadModel(client, a.token, { federationId: federation.id, version: 1 });
      if (model.values.length !== values.length) throw new Error('wrong size');
      return size / ((performance.now() - t0) / 1000);
    },
    async upload(): Promise<number> {
      const [plan] = await Promise.all([poll(a.token), poll(b.token)]);
      const t0 = performance.now();
      await update(plan.roundId, a.token);
      const rate = size / ((performance.now() - t0) / 1000);
      await update(plan.roundId, b.token);
      return rate;
    },
    async close() {
      client.close();
      admin.close();
      await coordinator.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const sides = [];
for (const tree of trees) sides.push(await side(tree));
const runs = trees.map(() => ({ download: [] as number[], upload: [] as number[] }));
const loadBefore = os.loadavg();
for (let r = 0; r <= reps; r++) {
  const order = r % 2 ? [...sides.keys()].reverse() : [...sides.keys()];
  for (const i of order) {
    const d = await sides[i]!.download();
    const u = await sides[i]!.upload();
    if (r > 0) { // r = 0 warms both up
      runs[i]!.download.push(+d.toFixed(1));
      runs[i]!.upload.push(+u.toFixed(1));
    }
  }
}
for (const s of sides) await s.close();
const median = (xs: number[]) => {
  const s = xs.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const medians = runs.map((r) => ({ downloadMiBs: +median(r.download).toFixed(1), uploadMiBs: +median(r.upload).toFixed(1) }));
process.stdout.write(JSON.stringify({
  bench: 'transfer-compare', sizeMiB: size, reps, loadAverage: { before: loadBefore.map((x) => +x.toFixed(2)), after: os.loadavg().map((x) => +x.toFixed(2)) },
  trees: trees.map((tree, i) => ({ tree, ...medians[i], runs: runs[i] })),
  ...(trees.length === 2 ? {
    ratioLastToFirst: { download: +(medians[1]!.downloadMiBs / medians[0]!.downloadMiBs).toFixed(2), upload: +(medians[1]!.uploadMiBs / medians[0]!.uploadMiBs).toFixed(2) },
  } : {}),
}, null, 2) + '\n');
process.exit(0);
