/**
 * Update compression on the wire vs accuracy, in one run: the same federation (MNIST mlp, IID
 * sites, recommended local settings, the same seeds) trained with plain float32 updates, q8 and
 * top-k, through the real round pipeline in one process: Participants (client-sdk, tfjs on wasm)
 * encode with the site's compressor, the coordinator core (in-memory transport, no sockets)
 * decodes, validates and aggregates. Bytes are the update tensors' payloads as they would be
 * chunked onto the wire (the q8 scales included; the envelope header, ~100 bytes, is not).
 * Accuracy is the final model's on the held-out test split; with --eval-every the sites' federated
 * evaluation of every version comes along.
 *
 *   node_modules/.bin/node bench/compression.ts [--sites 4] [--rounds 3] [--topk-ratio 0.1] [--epochs E] [--eval-every 1]
 *
 * Prints one JSON object.
 */
import { performance } from 'node:perf_hooks';
import { selectBackend } from '../client-sdk/tfjs/backend.ts';
import { Participant } from '../client-sdk/participant.ts';
import { zooInitialModel } from '../client-sdk/models/initial-model.ts';
import { modelFromTopology } from '../client-sdk/models/export.ts';
import { setFlatWeights } from '../client-sdk/models/weights.ts';
import { recommendedHyperParams } from '../client-sdk/training/defaults.ts';
import { TfjsTrainer } from '../client-sdk/training/tfjs-trainer.ts';
import { evaluate } from '../client-sdk/training/trainer.ts';
import { simulatedSiteEvalShards, simulatedSiteShards, simulatedTestData } from '../client-sdk/data/simulated.ts';
import type { FederationConfigInput } from '../coordinator/federation-config.ts';
import { inMemoryCoordinator, inMemoryTransport } from '../test/helpers/in-memory-coordinator.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
  return v;
}

const sites = arg('sites', 4);
const rounds = arg('rounds', 3);
const ratio = arg('topk-ratio', 0.1);
const evalEvery = arg('eval-every', 1);
const hyper = recommendedHyperParams('mlp');
const epochs = arg('epochs', hyper.epochs);
const seed = 1;

const { tf, backend } = await selectBackend({ prefer: 'wasm' });
const split = { dataset: 'mnist' as const, partition: 'iid' as const, sites, alpha: 0.5, seed };
const indices = Array.from({ length: sites }, (_, i) => i);
const shards = simulatedSiteShards(split, indices);
const evalShards = simulatedSiteEvalShards(split, indices);
const test = simulatedTestData(split);
const initial = zooInitialModel('mlp', seed);

async function run(compression: FederationConfigInput['compression']) {
  const c = await inMemoryCoordinator();
  try {
    const config: FederationConfigInput = {
      name: `bench-${compression!.kind}`, model: 'mlp', rounds, sitesPerRound: sites, minSites: sites, roundDeadlineMs: 3_600_000, seed,
      protection: { kind: 'none' }, privacy: null, compression, evaluation: { everyRounds: evalEvery },
      training: { localEpochs: epochs, batchSize: hyper.batchSize, learningRate: hyper.learningRate, optimizer: hyper.optimizer },
    };
    const fed = await c.federations.create(config, { topologyJson: initial.topologyJson, layout: initial.layout, values: initial.values });
    const bytesByRound = new Map<number, number>();
    const callers = [];
    for (const i of indices) {
      const { siteId } = await c.federations.enrollSite(fed.id, `site-${i}`, 0);
      callers.push({ siteId, federationId: fed.id });
    }
    c.federations.start(fed.id);
    const started = performance.now();
    const ticker = setInterval(() => c.rounds.scheduler.tick(), 20);
    try {
      await Promise.all(callers.map(async (caller, i) => {
        const base = inMemoryTransport(c, caller);
        const transport = {
          ...base,
          async submitStage(message: Parameters<typeof base.submitStage>[0]) {
            const round = c.rounds.activeRound(fed.id)?.number ?? 0;
            const q8 = message.body === 'update' ? 4 * (message.update.q8Scales?.length ?? 0) : 0;
            bytesByRound.set(round, (bytesByRound.get(round) ?? 0) + (message.tensor?.values.byteLength ?? 0) + q8);
            return base.submitStage(message);
          },
        };
        const participant = new Participant({ transport, trainer: new TfjsTrainer(shards.get(i)!, 'wasm'), evalData: evalShards.get(i)!, pollWaitMs: 20 });
        for await (const e of participant.run()) if (e.type === 'round-skipped') throw new Error(`site ${i}: ${e.reason}`);
      }));
    } finally {
      clearInterval(ticker);
    }
    const seconds = (performance.now() - started) / 1000;
    const latest = c.registry.latestVersion(fed.id)!;
    const model = await modelFromTopology(tf, initial.topologyJson);
    setFlatWeights(model, initial.layout, c.registry.readWeights(c.registry.get(fed.id, latest)));
    const final = await evaluate(model, test);
    model.dispose();
    const perRound = [...bytesByRound.entries()].sort((a, b) => a[0] - b[0]).map(([round, bytes]) => ({ round, bytes }));
    return {
      compression: compression!.kind === 'topk' ? `topk ${compression!.ratio}` : compression!.kind,
      committedRounds: c.rounds.committedRounds(fed.id),
      bytesPerRound: Math.round(perRound.reduce((a, r) => a + r.bytes, 0) / Math.max(1, perRound.length)),
      bytesPerSiteUpdate: Math.round(perRound.reduce((a, r) => a + r.bytes, 0) / Math.max(1, perRound.length) / sites),
      perRound,
      finalTestAccuracy: +final.accuracy.toFixed(4),
      finalTestLoss: +final.loss.toFixed(4),
      federatedAccuracy: Array.from({ length: latest }, (_, v) => c.registry.get(fed.id, v).metrics['federatedAccuracy'] ?? null).map((a) => (a === null ? null : +a.toFixed(4))),
      seconds: +seconds.toFixed(1),
    };
  } finally {
    c.close();
  }
}

const results = [];
for (const compression of [{ kind: 'none' }, { kind: 'q8' }, { kind: 'topk', ratio }] as const) {
  process.stderr.write(`[compression] ${compression.kind}…\n`);
  results.push(await run(compression));
}
const plain = results[0]!.bytesPerRound;
process.stdout.write(JSON.stringify({
  setup: { model: 'mlp', parameters: initial.values.length, sites, rounds, partition: 'iid', seed, epochs, batchSize: hyper.batchSize, learningRate: hyper.learningRate, backend, evalEvery },
  results: results.map((r) => ({ ...r, bytesVsNone: +(r.bytesPerRound / plain).toFixed(4) })),
}, null, 2) + '\n');
