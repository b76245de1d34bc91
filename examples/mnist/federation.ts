/**
 * A federation in one process, written against the public pieces a real deployment uses:
 * the coordinator, the admin API, and one `Participant` per site (here all in this process;
 * `conclave simulate` runs them as separate OS processes instead).
 *
 *   node_modules/.bin/node examples/mnist/federation.ts [sites=3] [rounds=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoordinator } from '../../coordinator/coordinator.ts';
import { createLogger } from '../../coordinator/logger.ts';
import { configMessage } from '../../coordinator/federation-config.ts';
import { createFederation } from '../../protocols/client.ts';
import { zooInitialModel } from '../../client-sdk/models/initial-model.ts';
import { recommendedHyperParams } from '../../client-sdk/training/defaults.ts';
import { adminClient, callUnary, downloadModel } from '../../client-sdk/connection.ts';
import { Participant } from '../../client-sdk/participant.ts';
import { simulatedSiteData, simulatedTestData } from '../../client-sdk/data/simulated.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { setFlatWeights } from '../../client-sdk/models/weights.ts';
import { modelFromTopology } from '../../client-sdk/models/export.ts';
import { evaluate } from '../../client-sdk/training/trainer.ts';
import type { FederationMsg } from '../../protocols/index.ts';

const sites = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);
if (!Number.isInteger(sites) || sites < 1 || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('usage: federation.ts [sites >= 1] [rounds >= 1]\n');
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), 'conclave-example-'));
const coordinator = await startCoordinator({ dataDir, log: createLogger({ component: 'coordinator', level: 'warn' }) });
const admin = adminClient(coordinator.address);
const token = coordinator.adminToken;
try {
  // 1. The operator builds version 0 (the coordinator never runs a model), creates the federation
  //    with it and enrolls the sites; each site gets its own token.
  const { epochs, batchSize, learningRate, optimizer } = recommendedHyperParams('mlp');
  const config = {
    name: 'mnist-example', model: 'mlp' as const, rounds, sitesPerRound: sites, minSites: sites, roundDeadlineMs: 300_000,
    training: { localEpochs: epochs, batchSize, learningRate, optimizer }, seed: 1, protection: 'none' as const, privacy: null,
  };
  await selectBackend();
  const federation = await createFederation(admin, token, { config: configMessage(config), model: zooInitialModel('mlp', config.seed) });
  const tokens: string[] = [];
  for (let i = 0; i < sites; i++) {
    tokens.push((await callUnary<{ token: string }>(admin, 'EnrollSite', { federationId: federation.id, siteName: `hospital-${i}` }, token)).token);
  }
  await callUnary(admin, 'StartFederation', { federationId: federation.id }, token);

  // 2. Each site runs a Participant on its own data; the data never leaves it.
  const split = { dataset: 'mnist' as const, partition: 'iid' as const, sites, alpha: 0.5, seed: 1 };
  const runs = tokens.map(async (siteToken, i) => {
    const participant = new Participant({ coordinator: coordinator.address, token: siteToken, data: simulatedSiteData(split, i) });
    for await (const event of participant.run()) {
      if (event.type === 'submitted') process.stdout.write(`site ${i}: submitted round ${event.round}\n`);
    }
  });
  await Promise.all(runs);

  // 3. The operator evaluates the final global model on held-out digits.
  const { tf } = await selectBackend();
  const latest = await downloadModel(admin, token, { federationId: federation.id, latest: true });
  const model = await modelFromTopology(tf, latest.topologyJson);
  setFlatWeights(model, latest.layout, latest.values);
  const { accuracy } = await evaluate(model, simulatedTestData(split));
  process.stdout.write(`global model v${latest.version}: test accuracy ${accuracy.toFixed(4)}\n`);
} finally {
  admin.close();
  await coordinator.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
