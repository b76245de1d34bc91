/**
 * A site whose worker pool loses a worker mid-round, against the coordinator core (in memory, manual
 * clock): the site submits nothing, and the round commits from the other sites as with a dropout.
 */
import { afterEach, expect, test } from 'vitest';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import type { LocalTrainer } from '../../client-sdk/training/local-trainer.ts';
import { WorkerPoolTrainer } from '../../client-sdk/training/worker-pool.ts';
import { inMemoryCoordinator, settle, tinyConfig, tinyFederation, type InMemoryCoordinator, inMemoryTransport, fixedTrainer } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());



test('a worker killed mid-round: the site submits nothing and the round commits without it', async () => {
  c = await inMemoryCoordinator();
  // The tiny model: 3 inputs, 2 outputs.
  const count = 64;
  const features = Float32Array.from({ length: count * 3 }, (_, i) => Math.sin(i));
  const labels = Int32Array.from({ length: count }, (_, i) => i % 2);
  const pool = new WorkerPoolTrainer({ features, labels, count, featureShape: [3], numClasses: 2 }, { workers: 2 });
  // Kills worker 1 once the pool has reported its first epoch, i.e. while the round's training runs.
  const killing: LocalTrainer = {
    init: () => pool.init(),
    async *train(global, plan) {
      const gen = pool.train(global, plan);
      let r = await gen.next();
      while (!r.done) {
        yield r.value;
        process.kill(pool.pids()[1]!, 'SIGKILL');
        r = await gen.next();
      }
      return r.value;
    },
    dispose: () => pool.dispose(),
  };
  const fed = await tinyFederation(c, 3, tinyConfig({ training: { localEpochs: 50, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' } }));
  const trainers = [fixedTrainer(0.5), fixedTrainer(0.5), killing];
  const submitted = new Set<number>();
  const outcomes = fed.sites.map(async (site, i) => {
    const events: ParticipantEvent[] = [];
    const participant = new Participant({ transport: inMemoryTransport(c, site), trainer: trainers[i]!, pollWaitMs: 20 });
    try {
      for await (const e of participant.run()) {
        events.push(e);
        if (e.type === 'submitted') submitted.add(i);
      }
      return { events, error: null as Error | null };
    } catch (e) {
      return { events, error: e as Error };
    }
  });
  const ticker = setInterval(() => c.rounds.scheduler.tick(), 10);
  try {
    const failed = await outcomes[2]!;
    expect(failed.error?.message).toMatch(/worker 1 .*exited \(SIGKILL\)/);
    expect(failed.events.map((e) => e.type)).toContain('training');
    expect(failed.events.map((e) => e.type)).not.toContain('submitted');
    // Once the two other sites have submitted, the deadline closes the round without the third. (The
    // killed site can fail before they even have the plan: moving the clock then would close the
    // round under them, and the next one would wait for the dead site on a clock nobody moves.)
    while (submitted.size < 2) await new Promise((r) => setTimeout(r, 10));
    await settle();
    await c.clock.advance(1_500);
    const done = await Promise.all([outcomes[0]!, outcomes[1]!]);
    for (const d of done) {
      expect(d.error).toBeNull();
      expect(d.events.map((e) => e.type)).toContain('submitted');
    }
  } finally {
    clearInterval(ticker);
  }
  const [round] = c.rounds.listRounds(fed.id);
  expect(round).toMatchObject({ state: 'committed' });
  // FedAvg of the two surviving updates only: a partial update from the pool would move this.
  for (const v of c.registry.readWeights(c.registry.get(fed.id, 1))) expect(v).toBeCloseTo(0.5, 6);
}, 60_000);
