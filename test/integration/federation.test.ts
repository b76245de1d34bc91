import { afterEach, describe, expect, test } from 'vitest';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { loadMnist } from '../../client-sdk/data/mnist.ts';
import { partitionIid } from '../../client-sdk/data/partition.ts';
import { subset } from '../../client-sdk/data/dataset.ts';
import { callUnary } from '../../client-sdk/connection.ts';
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
    const mnist = loadMnist();
    const parts = partitionIid(subset(mnist, Array.from({ length: 600 }, (_, i) => i)), 2, 1);
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
    admin.close();
  });
});
