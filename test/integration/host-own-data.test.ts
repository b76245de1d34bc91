/**
 * `conclave participant host --data DIR`: several sites in one process, each on its own files
 * (DIR/site-<i>.csv or DIR/site-<i>/, named like its token), as a real process against a real
 * coordinator: Iris split over two CSV files trains a federation; a site without exactly one data
 * path, or a simulated-split flag next to --data, is refused before any site connects.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { adminClient, callUnary } from '../../client-sdk/connection.ts';
import type { AdminClient, FederationMsg, RoundMsg } from '../../protocols/index.ts';
import { tempDataDir } from '../helpers/coordinator.ts';
import { IRIS_FLAGS, irisCsv } from '../helpers/iris.ts';
import { runCli } from '../helpers/processes.ts';

const { dir, cleanup } = tempDataDir('conclave-host-data-');
let coordinator: RunningCoordinator;
let admin: AdminClient;
let federationId = '';
const tokens = join(dir, 'tokens');
const sites = join(dir, 'sites');

beforeAll(async () => {
  coordinator = await startCoordinator({ dataDir: join(dir, 'coordinator'), port: 0, log: silentLogger });
  admin = adminClient(coordinator.address);
  const created = await runCli(['federation', 'create', '--coordinator', coordinator.address, '--token', coordinator.adminToken, '--json',
    '--sites-per-round', '2', '--rounds', '2', '--deadline-ms', '60000', ...IRIS_FLAGS]);
  expect(created.code, created.stderr).toBe(0);
  federationId = (JSON.parse(created.stdout) as FederationMsg).id;
  mkdirSync(tokens);
  mkdirSync(sites);
  for (let s = 0; s < 2; s++) {
    const { token } = await callUnary<{ token: string }>(admin, 'EnrollSite', { federationId, siteName: `site-${s}` }, coordinator.adminToken);
    writeFileSync(join(tokens, `site-${s}.token`), token);
    // The second site's columns come in another order, with a column the federation does not name.
    irisCsv(join(sites, `site-${s}.csv`), (i) => i % 2 === s, s === 1);
  }
  await callUnary(admin, 'StartFederation', { federationId }, coordinator.adminToken);
}, 60_000);

afterAll(async () => {
  admin?.close();
  await coordinator?.close();
  cleanup();
});

describe('participant host --data DIR', () => {
  test('each hosted site trains on its own CSV file: the federation commits its 2 rounds with both sites in each', async () => {
    const run = await runCli(['participant', 'host', '--coordinator', coordinator.address, '--token-dir', tokens, '--site-indices', '0,1',
      '--data', sites, '--label-column', 'species', '--backend', 'cpu', '--json'], { timeoutMs: 150_000 });
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(run.stdout) as { sites: Array<{ site: number; examples: number; outcome: string }> };
    expect(summary.sites).toMatchObject([{ site: 0, examples: 75, outcome: 'finished' }, { site: 1, examples: 75, outcome: 'finished' }]);
    const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(admin, 'ListRounds', { federationId }, coordinator.adminToken);
    expect(rounds.map((r) => [r.state, r.submittedSites.length, r.totalExamples])).toEqual([['committed', 2, 150], ['committed', 2, 150]]);
  }, 180_000);

  test('a site with no data path or two, or a simulated-split flag next to --data: refused before any site connects', async () => {
    // Tokens that would not authenticate: the refusals come first.
    const fakeTokens = join(dir, 'fake-tokens');
    mkdirSync(fakeTokens);
    for (const s of [0, 1, 2]) writeFileSync(join(fakeTokens, `site-${s}.token`), 'not-a-token');
    const both = join(dir, 'both');
    mkdirSync(join(both, 'site-0'), { recursive: true });
    irisCsv(join(both, 'site-0.csv'), () => true);
    const host = (extra: string[]) => runCli(['participant', 'host', '--coordinator', '127.0.0.1:1', '--token-dir', fakeTokens, '--label-column', 'species', ...extra]);
    const [missing, twice, simulated, noData] = await Promise.all([
      host(['--site-indices', '0,2', '--data', sites]),
      host(['--site-indices', '0', '--data', both]),
      host(['--site-indices', '0', '--data', sites, '--dataset', 'mnist']),
      host(['--site-indices', '0', '--dataset', 'mnist', '--sites', '2']),
    ]);
    expect(missing).toMatchObject({ code: 3, stderr: expect.stringMatching(/site 2 needs exactly one of site-2\.csv \(CSV\) or site-2\/ \(image folder\) there, found neither/) });
    expect(twice).toMatchObject({ code: 3, stderr: expect.stringMatching(/site 0 needs exactly one of .* found both/) });
    expect(simulated).toMatchObject({ code: 2, stderr: expect.stringMatching(/--dataset is for the simulated MNIST shards/) });
    expect(noData).toMatchObject({ code: 2, stderr: expect.stringMatching(/--data and --label-column are for sites on their own data/) });
  }, 60_000);
});
