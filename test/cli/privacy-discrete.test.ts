import { describe, expect, it } from 'vitest';
import { privacyCommand } from '../../coordinator/cli/privacy-command.ts';
import { exitCodeFor } from '../../protocols/cli.ts';
import { runCli, type CliRun } from '../helpers/processes.ts';

// The real CLI in a child process (about a second of CPU per start), concurrently.
const cli = (args: string[]): Promise<CliRun> => runCli(['privacy', 'epsilon', ...args], { timeoutMs: 30_000 });

// The paper's public accountant (google-research/federated distributed_dp, formulas re-typed by hand
// in Python) gives ε = 2.45104305732911 (ddg) and 2.4510430816853312 (skellam) for these flags at its
// orders 2…128, 256; the CLI uses the ledger's orders (2…63, 80, 96, 128, …, 1024), which include the
// optimum (7) here, so it prints the same ε.
const FLAGS = ['--clip', '1', '--local-stddev', '0.1', '--clients-per-round', '100', '--dim', '65536', '--granularity', '1e-4',
  '--beta', String(Math.exp(-0.5)), '--sample-rate', '0.01', '--rounds', '1000', '--delta', '1e-5'];

describe.concurrent('conclave privacy epsilon --mechanism ddg|skellam', () => {
  it('prints the paper accountant\'s ε as JSON for ddg and skellam', async () => {
    const [ddg, skellam] = await Promise.all([cli(['--mechanism', 'ddg', ...FLAGS, '--json']), cli(['--mechanism', 'skellam', ...FLAGS, '--json'])]);
    expect(ddg.code).toBe(0);
    expect(skellam.code).toBe(0);
    const a = JSON.parse(ddg.stdout) as Record<string, number | string>;
    const b = JSON.parse(skellam.stdout) as Record<string, number | string>;
    expect(Math.abs((a['epsilon'] as number) - 2.45104305732911)).toBeLessThan(1e-9);
    expect(Math.abs((b['epsilon'] as number) - 2.4510430816853312)).toBeLessThan(1e-9);
    expect(a).toMatchObject({ mechanism: 'ddg', accountant: 'rdp', order: 7, clientsPerRound: 100, dim: 65536, rounds: 1000 });
    expect(a['roundedSensitivity'] as number).toBeGreaterThan(1);
  });

  // Error paths in process (no CLI start each): the error's exit code is what the CLI would exit with.
  async function fails(args: string[]): Promise<{ exit: number; message: string }> {
    try {
      await privacyCommand(['epsilon', ...args]);
    } catch (err) {
      return { exit: exitCodeFor(err), message: (err as Error).message };
    }
    throw new Error('expected the command to fail');
  }

  it('a missing flag or a Gaussian flag alongside is a usage error (exit 2)', async () => {
    expect(await fails(['--mechanism', 'ddg', ...FLAGS.slice(2)])).toMatchObject({ exit: 2, message: expect.stringMatching(/--clip is required/) });
    expect(await fails(['--mechanism', 'skellam', ...FLAGS, '--noise-multiplier', '1'])).toMatchObject({ exit: 2, message: expect.stringMatching(/cannot be combined with --noise-multiplier/) });
    expect(await fails(['--noise-multiplier', '1', '--sample-rate', '0.1', '--rounds', '3', '--delta', '1e-5', '--granularity', '0.1']))
      .toMatchObject({ exit: 2, message: expect.stringMatching(/--granularity need --mechanism/) });
  });

  it('a bad value is invalid input (exit 3)', async () => {
    const set = (flag: string, value: string) => FLAGS.map((f, i) => (FLAGS[i - 1] === flag ? value : f));
    expect(await fails(['--mechanism', 'ddg', ...set('--beta', '1')])).toMatchObject({ exit: 3, message: expect.stringMatching(/--beta must be a number in \[0, 1\)/) });
    expect(await fails(['--mechanism', 'ddg', ...set('--granularity', '1')])).toMatchObject({ exit: 3, message: expect.stringMatching(/--local-stddev\/--granularity must be at least 1\/2/) });
    expect(await fails(['--mechanism', 'ddg', ...set('--clients-per-round', '2.5')])).toMatchObject({ exit: 3, message: expect.stringMatching(/positive integer/) });
    expect(await fails(['--mechanism', 'ddg', ...FLAGS, '--accountant', 'pld'])).toMatchObject({ exit: 3, message: expect.stringMatching(/rdp only/) });
    expect((await fails(['--mechanism', 'laplace', ...FLAGS])).exit).toBe(3);
  });
});
