import { afterEach, describe, expect, test } from 'vitest';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { loadMnist, trainTestSplit } from '../../client-sdk/data/mnist.ts';
import { partitionIid } from '../../client-sdk/data/partition.ts';
import { subset } from '../../client-sdk/data/dataset.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callUnary, downloadModel } from '../../client-sdk/connection.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { loadLayersModelFromDir, modelFromTopology } from '../../client-sdk/models/export.ts';
import { setFlatWeights } from '../../client-sdk/models/weights.ts';
import { evaluate } from '../../client-sdk/training/trainer.ts';

const execFileAsync = promisify(execFile);
const BIN = fileURLToPath(new URL('../../coordinator/cli/conclave.js', import.meta.url));
import { startTestFederation, tempDataDir } from '../helpers/coordinator.ts';
import type { ModelVersionMsg, RoundMsg } from '../../protocols/index.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function drain(events: AsyncGenerator<ParticipantEvent>): Promise<ParticipantEvent[]> {
  const seen: ParticipantEvent[] = [];
  for await (const e of events) seen.push(e);
  return seen;
}

describe('a federation over real gRPC', () => {
  test('two sites train two rounds and the coordinator commits two model versions', async () => {
    const { dir, cleanup } = tempDataDir();
    cleanups.push(cleanup);
    const { coordinator, admin, federation, sites } = await startTestFederation({ dataDir: dir, sites: 2, rounds: 2 });
    cleanups.push(() => coordinator.close());
    const { train, test: heldOut } = trainTestSplit(loadMnist(), { seed: 1 });
    const parts = partitionIid(subset(train, Array.from({ length: 1000 }, (_, i) => i)), 2, 1);
    const runs = sites.map((site, i) => drain(new Participant({ coordinator: coordinator.address, token: site.token, data: parts[i]!, backend: 'cpu' }).run()));
    const results = await Promise.all(runs);
    for (const events of results) {
      expect(events.filter((e) => e.type === 'submitted')).toHaveLength(2);
      expect(events.at(-1)).toMatchObject({ type: 'finished', finalModelVersion: 2 });
    }
    const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(admin, 'ListRounds', { federationId: federation.id }, coordinator.adminToken);
    expect(rounds.map((r) => r.state)).toEqual(['committed', 'committed']);
    const { models } = await callUnary<{ models: ModelVersionMsg[] }>(admin, 'ListModels', { federationId: federation.id }, coordinator.adminToken);
    expect(models.map((m) => [m.version, m.parentVersion])).toEqual([[0, 0], [1, 0], [2, 1]]);

    // The operator exports the latest version with the CLI; tf.loadLayersModel reads it back and
    // it scores exactly what the registry's weights score.
    const outDir = join(dir, 'export');
    // Asynchronously: the coordinator lives in this process and must keep serving while the CLI runs.
    const cli = await execFileAsync(process.execPath, [BIN, 'model', 'export', '--federation', federation.id, '--out', outDir, '--json',
      '--coordinator', coordinator.address, '--token', coordinator.adminToken], { encoding: 'utf8' });
    expect(JSON.parse(cli.stdout)).toMatchObject({ version: 2 });
    const { tf } = await selectBackend({ prefer: 'cpu' });
    const loaded = await loadLayersModelFromDir(tf, outDir);
    const latest = await downloadModel(admin, coordinator.adminToken, { federationId: federation.id, latest: true });
    const reference = await modelFromTopology(tf, latest.topologyJson);
    setFlatWeights(reference, latest.layout, latest.values);
    const test = subset(heldOut, Array.from({ length: 500 }, (_, i) => i));
    const fromExport = await evaluate(loaded, test);
    const fromRegistry = await evaluate(reference, test);
    expect(fromExport.accuracy).toBe(fromRegistry.accuracy);
    expect(fromExport.loss).toBeCloseTo(fromRegistry.loss, 6);
    expect(fromExport.accuracy).toBeGreaterThan(0.5);
    loaded.dispose();
    reference.dispose();
    admin.close();
  });
});
