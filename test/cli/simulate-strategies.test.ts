import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../helpers/coordinator.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../coordinator/cli/conclave.js', import.meta.url));
const dirs: Array<() => void> = [];
afterAll(() => dirs.forEach((cleanup) => cleanup()));

describe('conclave simulate with fedprox, federated evaluation and top-k compression (separate processes, gRPC)', () => {
  it('reports each base version\'s federated accuracy, which is its accuracy on the whole test split', async () => {
    const { dir, cleanup } = tempDataDir('conclave-sim-strat-');
    dirs.push(cleanup);
    const { stdout } = await run(process.execPath, [BIN, 'simulate', '--sites', '2', '--rounds', '2', '--local-epochs', '1', '--seed', '3', '--json', '--data-dir', dir,
      '--strategy', 'fedprox', '--prox-mu', '0.1', '--eval-every', '1', '--compress', 'topk', '--topk-ratio', '0.2'], { maxBuffer: 16 << 20, timeout: 240_000 });
    const summary = JSON.parse(stdout) as {
      rounds: Array<{ modelVersion: number; testAccuracy: number; federatedAccuracy?: number; federatedModelVersion?: number; sites: number }>;
    };
    expect(summary.rounds.map((r) => [r.modelVersion, r.federatedModelVersion, r.sites])).toEqual([[1, 0, 2], [2, 1, 2]]);
    // v0 is the untrained model: about chance.
    expect(summary.rounds[0]!.federatedAccuracy).toBeLessThan(0.3);
    // The two sites' held-out shards partition the simulation's test split, so their example-weighted
    // mean is v1's test accuracy, which simulate measured centrally after round 1.
    expect(summary.rounds[1]!.federatedAccuracy).toBeCloseTo(summary.rounds[0]!.testAccuracy, 4);
    expect(summary.rounds[1]!.testAccuracy).toBeGreaterThan(0.5);
  }, 240_000);
});
