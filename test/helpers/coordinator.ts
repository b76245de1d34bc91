import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { adminClient, callUnary } from '../../client-sdk/connection.ts';
import type { AdminClient, FederationMsg } from '../../protocols/index.ts';
import { configMessage, type FederationConfigInput } from '../../coordinator/federation-config.ts';
import { createFederation } from '../../protocols/client.ts';
import { zooInitialModel } from '../../client-sdk/models/initial-model.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';

export function tempDataDir(prefix = 'conclave-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Creates a federation as the admin CLI does: version 0 is built here, on the client side, from the
 * zoo with the config's seed (tfjs), and uploaded; the coordinator never builds a model.
 */
export async function createZooFederation(admin: AdminClient, token: string, config: FederationConfigInput): Promise<FederationMsg> {
  await selectBackend({ prefer: 'cpu' }); // tfjs in production mode, as the CLI runs it
  const model = zooInitialModel(config.model === 'cnn' ? 'cnn' : 'mlp', config.seed);
  return createFederation(admin, token, { config: configMessage(config), model });
}

export interface TestFederation {
  coordinator: RunningCoordinator;
  admin: AdminClient;
  federation: FederationMsg;
  sites: Array<{ siteId: string; token: string }>;
}

export interface TestSiteOptions {
  /** The site's own ε budget (EnrollSite budget_epsilon); unset: the federation's. */
  budgetEpsilon?: number;
  /** The site's own Poisson sampling rate; unset: the federation's. */
  sampleRate?: number;
}

export async function startTestFederation(options: {
  dataDir: string; sites: number; rounds?: number; minSites?: number; roundDeadlineMs?: number; start?: boolean;
  /** Differential privacy for the federation (sent over the wire as PrivacyConfig); unset: none. */
  privacy?: NonNullable<FederationConfigInput['privacy']>;
  /** How updates travel (default none); distributed DP needs secagg. */
  protection?: FederationConfigInput['protection'];
  /** Per-site enrollment options, by index. */
  siteOptions?: TestSiteOptions[];
  /** Serve Prometheus metrics (0: any free port). */
  metricsPort?: number;
}): Promise<TestFederation> {
  const coordinator = await startCoordinator({
    dataDir: options.dataDir, port: 0, log: silentLogger, ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
  });
  const admin = adminClient(coordinator.address);
  return { coordinator, admin, ...await addTestFederation(coordinator, admin, options) };
}

/** One more federation (MLP from the zoo, no protection) with its enrolled sites, on a running coordinator. */
export async function addTestFederation(coordinator: RunningCoordinator, admin: AdminClient, options: {
  sites: number; rounds?: number; minSites?: number; roundDeadlineMs?: number; start?: boolean;
  privacy?: NonNullable<FederationConfigInput['privacy']>; protection?: FederationConfigInput['protection']; siteOptions?: TestSiteOptions[];
}): Promise<Pick<TestFederation, 'federation' | 'sites'>> {
  const config: FederationConfigInput = {
    name: 'test', model: 'mlp', rounds: options.rounds ?? 1, sitesPerRound: options.sites, minSites: options.minSites ?? options.sites,
    roundDeadlineMs: options.roundDeadlineMs ?? 30_000, seed: 7, protection: options.protection ?? 'none',
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
    privacy: options.privacy ?? null,
  };
  let federation = await createZooFederation(admin, coordinator.adminToken, config);
  const sites = [];
  for (let i = 0; i < options.sites; i++) {
    const own = options.siteOptions?.[i] ?? {};
    sites.push(await callUnary<{ siteId: string; token: string }>(admin, 'EnrollSite', {
      federationId: federation.id, siteName: `site-${i}`, budgetEpsilon: own.budgetEpsilon ?? 0, sampleRate: own.sampleRate ?? 0,
    }, coordinator.adminToken));
  }
  if (options.start ?? true) {
    federation = await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: federation.id }, coordinator.adminToken);
  }
  return { federation, sites };
}
