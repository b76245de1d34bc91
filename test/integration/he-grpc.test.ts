/**
 * Protection `he` over real gRPC on 127.0.0.1: a model whose aggregate ciphertexts (35 × 128 KiB,
 * 4.6 MB) are larger than one gRPC message (4 MiB) goes through the key ceremony, encryption and
 * decryption, the aggregate reaching the decryptors as a chunked stage tensor.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { adminClient, callUnary, downloadModel } from '../../client-sdk/connection.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { configMessage, type FederationConfigInput } from '../../coordinator/federation-config.ts';
import { createFederation } from '../../protocols/client.ts';
import { MAX_MESSAGE_BYTES, type FederationMsg, type TensorSpec } from '../../protocols/index.ts';
import { tempDataDir } from '../helpers/coordinator.ts';
import { fixedTrainer } from '../helpers/in-memory-coordinator.ts';

const INPUTS = 500;
const UNITS = 280;
const TOPOLOGY = JSON.stringify({
  class_name: 'Sequential',
  config: { name: 'wide', layers: [{ class_name: 'Dense', config: { name: 'dense', units: UNITS, batch_input_shape: [null, INPUTS], activation: 'linear', use_bias: true } }] },
});
const LAYOUT: TensorSpec[] = [
  { name: 'dense/kernel', shape: [INPUTS, UNITS], dtype: 'float32' },
  { name: 'dense/bias', shape: [UNITS], dtype: 'float32' },
];
const PARAMETERS = INPUTS * UNITS + UNITS;

let coordinator: RunningCoordinator;
let cleanup: () => void;
beforeAll(async () => {
  const dir = tempDataDir('conclave-he-grpc-');
  cleanup = dir.cleanup;
  coordinator = await startCoordinator({ dataDir: dir.dir, port: 0, log: silentLogger });
});
afterAll(async () => {
  await coordinator?.close();
  cleanup?.();
});

test('an aggregate larger than a gRPC message reaches the decryptors in chunks, and the round commits the weighted mean', async () => {
  // 35 ciphertexts of the full form: the aggregate is larger than one message may be.
  expect(Math.ceil((PARAMETERS + 1) / 4096) * 131_000).toBeGreaterThan(MAX_MESSAGE_BYTES);
  const admin = adminClient(coordinator.address);
  try {
    const config: FederationConfigInput = {
      name: 'he-wide', model: 'custom', rounds: 1, sitesPerRound: 2, minSites: 2, roundDeadlineMs: 60_000, seed: 1,
      protection: { kind: 'he', decryptors: 2, ciphertexts: 'seeded' },
      training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, privacy: null,
    };
    const fed = await createFederation(admin, coordinator.adminToken, { config: configMessage(config), model: { topologyJson: TOPOLOGY, layout: LAYOUT, values: new Float32Array(PARAMETERS) } });
    const sites = await Promise.all([0, 1].map((i) => callUnary<{ siteId: string; token: string }>(admin, 'EnrollSite', { federationId: fed.id, siteName: `s${i}` }, coordinator.adminToken)));
    await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: fed.id }, coordinator.adminToken);
    const runs = sites.map(async (site, i) => {
      const participant = new Participant({ coordinator: coordinator.address, token: site.token, trainer: fixedTrainer(i === 0 ? 0.25 : 0.5, i === 0 ? 10 : 30), pollWaitMs: 200 });
      const events: ParticipantEvent[] = [];
      for await (const e of participant.run()) events.push(e);
      return events;
    });
    const events = (await Promise.all(runs)).flat();
    expect(events.filter((e) => e.type === 'stage-sent' && e.stage === 'decrypt')).toHaveLength(2);
    const model = await downloadModel(admin, coordinator.adminToken, { federationId: fed.id, version: 1 });
    const expected = (0.25 * 10 + 0.5 * 30) / 40;
    let worst = 0;
    for (const v of model.values) worst = Math.max(worst, Math.abs(v - expected));
    expect(worst).toBeLessThan(1e-6);
  } finally {
    admin.close();
  }
}, 60_000);
