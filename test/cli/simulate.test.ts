import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../helpers/coordinator.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../coordinator/cli/conclave.js', import.meta.url));
const dirs: Array<() => void> = [];
afterAll(() => dirs.forEach((cleanup) => cleanup()));

function dataDir(): string {
  const { dir, cleanup } = tempDataDir('conclave-sim-');
  dirs.push(cleanup);
  return dir;
}

describe('conclave simulate (coordinator and sites as separate processes)', () => {
  it('the acceptance run: 4 IID sites, 3 rounds of the MLP, ≥ 0.88 test accuracy, stable JSON', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'simulate', '--sites', '4', '--rounds', '3', '--model', 'mlp', '--partition', 'iid',
      '--seed', '1', '--json', '--data-dir', dataDir()], { maxBuffer: 16 << 20, timeout: 240_000 });
    const summary = JSON.parse(stdout) as {
      federation: string; backend: string; testAccuracy: number; protection: string;
      rounds: Array<{ round: number; modelVersion: number; testAccuracy: number; sites: number }>;
    };
    expect(summary.federation).toMatch(/^[0-9a-f-]{36}$/);
    expect(['wasm', 'cpu', 'tensorflow']).toContain(summary.backend);
    expect(summary.protection).toBe('none');
    expect(summary.rounds.map((r) => [r.round, r.modelVersion, r.sites])).toEqual([[1, 1, 4], [2, 2, 4], [3, 3, 4]]);
    expect(summary.rounds.every((r) => r.testAccuracy > 0.5)).toBe(true);
    expect(summary.testAccuracy).toBeGreaterThanOrEqual(0.88);
  }, 240_000);

  it('with DP and a budget: per-round ε for the federation and each site, never above the budget, stopping early', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'simulate', '--sites', '2', '--rounds', '6', '--seed', '2', '--json', '--data-dir', dataDir(),
      '--local-epochs', '1', '--dp', 'central', '--noise-multiplier', '1.5', '--clip', '1', '--budget', '3', '--delta', '1e-5'],
    { maxBuffer: 16 << 20, timeout: 240_000 });
    const summary = JSON.parse(stdout) as {
      finishReason: string; rounds: Array<{ epsilon: number; accountant: string; siteEpsilon: Record<string, number> }>;
      privacy: { epsilon: number; budgetEpsilon: number };
    };
    expect(summary.rounds.length).toBeGreaterThan(0);
    expect(summary.rounds.length).toBeLessThan(6);
    expect(summary.finishReason).toMatch(/privacy budget exhausted/);
    let previous = 0;
    for (const round of summary.rounds) {
      expect(round.epsilon).toBeGreaterThan(previous);
      expect(round.epsilon).toBeLessThanOrEqual(3);
      expect(['rdp', 'pld']).toContain(round.accountant);
      expect(Object.keys(round.siteEpsilon).sort()).toEqual(['site-0', 'site-1']);
      for (const eps of Object.values(round.siteEpsilon)) expect(eps).toBeCloseTo(round.epsilon, 9);
      previous = round.epsilon;
    }
  }, 240_000);

  it('hosts many sites per process: 6 sites in 2 processes, each site with its own token and channel', async () => {
    const dir = dataDir();
    const { stdout } = await run(process.execPath, [BIN, 'simulate', '--sites', '6', '--site-processes', '2', '--rounds', '1', '--local-epochs', '1',
      '--seed', '3', '--json', '--data-dir', dir], { maxBuffer: 16 << 20, timeout: 240_000 });
    const summary = JSON.parse(stdout) as { sites: number; siteProcesses: number; logs: string; testAccuracy: number; rounds: Array<{ round: number; sites: number; examples: number }> };
    expect(summary).toMatchObject({ sites: 6, siteProcesses: 2 });
    expect(summary.rounds.map((r) => [r.round, r.sites, r.examples])).toEqual([[1, 6, 8000]]);
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
    // Round-robin: process 0 hosts sites 0, 2, 4 and process 1 sites 1, 3, 5; each site submitted once.
    const submittedBy = (log: string) => readFileSync(join(summary.logs, log), 'utf8').split('\n').filter((l) => l.includes('"type":"submitted"'))
      .map((l) => (JSON.parse(l) as { site: number }).site).sort();
    expect(readdirSync(summary.logs).filter((f) => f.endsWith('.log')).sort()).toEqual(['sites-0.log', 'sites-1.log']);
    expect(submittedBy('sites-0.log')).toEqual([0, 2, 4]);
    expect(submittedBy('sites-1.log')).toEqual([1, 3, 5]);
  }, 240_000);

  it('refuses bad flags with a usage exit code and changes nothing', async () => {
    const dir = dataDir();
    const failure = await run(process.execPath, [BIN, 'simulate', '--sites', '0', '--data-dir', dir]).catch((err: { code: number; stderr: string }) => err);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/--sites must be in \[1, 8000\]/);
    const tooMany = await run(process.execPath, [BIN, 'simulate', '--sites', '3', '--site-processes', '4', '--data-dir', dir]).catch((err: { code: number; stderr: string }) => err);
    expect(tooMany).toMatchObject({ code: 2 });
    expect((tooMany as { stderr: string }).stderr).toMatch(/--site-processes must be in \[1, 3\]/);
    const noDp = await run(process.execPath, [BIN, 'simulate', '--budget', '3', '--data-dir', dir]).catch((err: { code: number; stderr: string }) => err);
    expect(noDp).toMatchObject({ code: 2 });
    expect((noDp as { stderr: string }).stderr).toMatch(/--budget needs --dp/);
  });
});
