import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { adminClient, callUnary } from '../../client-sdk/connection.ts';
import type { FederationMsg } from '../../protocols/index.ts';
import type * as grpc from '@grpc/grpc-js';

export function tempDataDir(prefix = 'conclave-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestFederation {
  coordinator: RunningCoordinator;
  admin: grpc.Client;
  federation: FederationMsg;
  sites: Array<{ siteId: string; token: string }>;
}

export async function startTestFederation(options: {
  dataDir: string; sites: number; rounds?: number; minSites?: number; roundDeadlineMs?: number; start?: boolean;
}): Promise<TestFederation> {
  const coordinator = await startCoordinator({ dataDir: options.dataDir, port: 0, log: silentLogger });
  const admin = adminClient(coordinator.address);
  let federation = await callUnary<FederationMsg>(admin, 'CreateFederation', {
    config: {
      name: 'test', model: 'mlp', rounds: options.rounds ?? 1, sitesPerRound: options.sites, minSites: options.minSites ?? options.sites,
      roundDeadlineMs: options.roundDeadlineMs ?? 30_000, seed: 7, protection: 'none',
      training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
    },
  }, coordinator.adminToken);
  const sites = [];
  for (let i = 0; i < options.sites; i++) {
    sites.push(await callUnary<{ siteId: string; token: string }>(admin, 'EnrollSite', { federationId: federation.id, siteName: `site-${i}` }, coordinator.adminToken));
  }
  if (options.start ?? true) {
    federation = await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: federation.id }, coordinator.adminToken);
  }
  return { coordinator, admin, federation, sites };
}
