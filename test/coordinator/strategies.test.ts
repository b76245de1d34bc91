/**
 * Aggregation strategies through the real round pipeline (in memory, manual clock): a stateful
 * server optimizer continues exactly across a coordinator restart, and a robust aggregator keeps
 * a wild update out of the committed model.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { RoundPlanMsg } from '../../protocols/index.ts';
import { DEFAULT_PROTOCOLS, RoundManager } from '../../coordinator/rounds.ts';
import { ParticipantEndpoint } from '../../coordinator/participant-endpoint.ts';
import { ModelRegistry } from '../../coordinator/model-registry.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import type { FederationConfigInput } from '../../coordinator/federation-config.ts';
import {
  inMemoryCoordinator, openRound, poll, sendUpdate, settle, tinyConfig, tinyFederation, type InMemoryCoordinator,
} from '../helpers/in-memory-coordinator.ts';

const opened: InMemoryCoordinator[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

/** Site i's update in round r: different per site and round, so every moment the optimizer keeps matters. */
const updateOf = (round: number, site: number) => Float32Array.from({ length: 8 }, (_, k) => Math.sin(round * 3 + site * 5 + k) * (k + 1) / 4);

async function planOf(c: InMemoryCoordinator, site: Parameters<typeof poll>[1]): Promise<RoundPlanMsg> {
  const task = await poll(c, site);
  if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
  return task.round;
}

/** What a restarted process has: a new registry, round pipeline and endpoint over the same data dir. */
function restart(c: InMemoryCoordinator): InMemoryCoordinator {
  c.rounds.stop();
  const registry = new ModelRegistry(c.store);
  const rounds = new RoundManager({
    store: c.store, registry, log: silentLogger, ledger: c.ledger, clock: c.clock, protocols: DEFAULT_PROTOCOLS,
    getFederation: (id) => c.federations.get(id), markFinished: (id, reason) => c.federations.markFinished(id, reason),
  });
  rounds.recover();
  return { ...c, registry, rounds, endpoint: new ParticipantEndpoint({ federations: c.federations, registry, rounds }) };
}

async function train(aggregation: FederationConfigInput['aggregation'], restartBetweenRounds: boolean, rounds = 3) {
  const first = await inMemoryCoordinator();
  opened.push(first);
  let c = first;
  const fed = await tinyFederation(c, 3, tinyConfig({ rounds, minSites: 3, aggregation }));
  for (let r = 1; r <= rounds; r++) {
    await openRound(c, fed.sites);
    const plans = await Promise.all(fed.sites.map((s) => planOf(c, s)));
    for (let i = 0; i < 3; i++) await sendUpdate(c, fed.sites[i]!, plans[i]!.roundId, updateOf(r, i), i + 1);
    expect(c.registry.latestVersion(fed.id)).toBe(r);
    if (restartBetweenRounds) c = restart(c);
  }
  await settle();
  const last = c.registry.get(fed.id, rounds);
  return { weights: c.registry.readWeights(last), state: c.registry.readOptimizerState(last) };
}

describe('stateful server optimizers across a coordinator restart', () => {
  test.each([
    { kind: 'fedavgm' as const, learningRate: 0.5, momentum: 0.9 },
    { kind: 'fedadam' as const, learningRate: 0.1 },
    { kind: 'fedyogi' as const, learningRate: 0.1 },
    { kind: 'fedadagrad' as const, learningRate: 0.1 },
  ])('$kind: restarted between every round, the model is bit-identical to an uninterrupted run', async (serverOptimizer) => {
    const aggregation = { kind: 'fedavg' as const, serverOptimizer };
    const straight = await train(aggregation, false);
    const restarted = await train(aggregation, true);
    expect(restarted.state).toMatchObject({ optimizer: serverOptimizer.kind, scalars: { step: 3 } });
    expect(restarted.state).toEqual(straight.state);
    expect(Array.from(restarted.weights)).toEqual(Array.from(straight.weights));
    // The state matters: plain FedAvg over the same updates lands elsewhere.
    const fedavg = await train(undefined, false);
    expect(Array.from(fedavg.weights)).not.toEqual(Array.from(straight.weights));
  });
});

describe('robust aggregators in a plain round', () => {
  test('median and Krum keep a wild update out of the model; FedAvg does not', async () => {
    const run = async (aggregation: FederationConfigInput['aggregation']) => {
      const c = await inMemoryCoordinator();
      opened.push(c);
      const fed = await tinyFederation(c, 3, tinyConfig({ minSites: 3, aggregation }));
      await openRound(c, fed.sites);
      const plans = await Promise.all(fed.sites.map((s) => planOf(c, s)));
      await sendUpdate(c, fed.sites[0]!, plans[0]!.roundId, new Float32Array(8).fill(1));
      await sendUpdate(c, fed.sites[1]!, plans[1]!.roundId, new Float32Array(8).fill(1.5));
      // Wild but within the coordinator's norm bound (‖·‖ = 300·√8 ≈ 849 < 1000): beyond it, it would be refused outright.
      await sendUpdate(c, fed.sites[2]!, plans[2]!.roundId, new Float32Array(8).fill(300), 1000);
      expect(c.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'committed', resultVersion: 1 });
      return Array.from(c.registry.readWeights(c.registry.get(fed.id, 1)));
    };
    expect(await run({ kind: 'median' })).toEqual(new Array(8).fill(1.5));
    expect(await run({ kind: 'krum', byzantine: 0 })).toEqual(new Array(8).fill(1));
    // FedAvg weights the wild update by its 1000 examples: the mean follows it.
    expect(Math.min(...await run(undefined))).toBeGreaterThan(15);
  });
});
