import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { calibrateNoiseMultiplier, computeEpsilon, gaussianEpsilon } from '../../crypto/dp/index.ts';
import { runCli, runCliInProcess, type CliRun } from '../helpers/processes.ts';

// The happy paths run the real CLI (coordinator/cli/conclave.js) in a child process, concurrently (vitest's
// maxConcurrency, 5 by default), because each start of the CLI costs about a second of CPU.

const dir = mkdtempSync(join(tmpdir(), 'conclave-privacy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const cli = (args: string[], stdin?: string): Promise<CliRun> => runCli(['privacy', ...args], { timeoutMs: 30_000, ...(stdin !== undefined ? { stdin } : {}) });

async function json(args: string[], stdin?: string): Promise<Record<string, unknown>> {
  const run = await cli([...args, '--json'], stdin);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

const OPACUS = ['--noise-multiplier', '1.5', '--sample-rate', '0.04', '--rounds', '2250', '--delta', '1e-5'];
const OPACUS_EVENT = { noiseMultiplier: 1.5, sampleRate: 0.04, count: 2250 };

describe.concurrent('conclave privacy epsilon', () => {
  it('matches computeEpsilon and the published Opacus value (σ=1.5, q=0.04, 2250 steps, δ=1e-5 → ε ≈ 7.33) with rdp', async () => {
    const out = await json(['epsilon', ...OPACUS, '--accountant', 'rdp']);
    const direct = computeEpsilon([OPACUS_EVENT], 1e-5, 'rdp');
    expect(out['accountant']).toBe('rdp');
    expect(out['epsilon']).toBe(direct.epsilon);
    expect(out['order']).toBe(direct.order);
    expect(out['epsilon'] as number).toBeCloseTo(7.329, 2);
    expect(out).toMatchObject({ delta: 1e-5, noiseMultiplier: 1.5, sampleRate: 0.04, rounds: 2250 });
  });

  it('honours --accountant pld, which is tighter here', async () => {
    const out = await json(['epsilon', ...OPACUS, '--accountant', 'pld']);
    expect(out['accountant']).toBe('pld');
    expect(out['epsilon']).toBe(computeEpsilon([OPACUS_EVENT], 1e-5, 'pld').epsilon);
    expect(out['epsilon'] as number).toBeLessThan(7.329);
    expect(out['epsilon'] as number).toBeGreaterThan(6);
  });

  it('without --accountant runs both and reports the tighter one and which won', async () => {
    const out = await json(['epsilon', ...OPACUS]);
    const rdp = computeEpsilon([OPACUS_EVENT], 1e-5, 'rdp').epsilon;
    const pld = computeEpsilon([OPACUS_EVENT], 1e-5, 'pld').epsilon;
    expect(out['requested']).toBe('best');
    expect(out['candidates']).toEqual({ rdp, pld });
    expect(out['epsilon']).toBe(Math.min(rdp, pld));
    expect(out['accountant']).toBe(pld < rdp ? 'pld' : 'rdp');
  });

  it('prints a short human line without --json', async () => {
    const run = await cli(['epsilon', ...OPACUS, '--accountant', 'rdp']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(run.stdout).toMatch(/^ε = 7\.329\d* at δ = .*rdp accountant/);
  });

  it('composes the events of a file in order, for both accountants', async () => {
    const events = [
      { noiseMultiplier: 1.1, sampleRate: 0.01, count: 500 },
      { noiseMultiplier: 0.9, sampleRate: 0.02, count: 300 },
      { noiseMultiplier: 1.1, sampleRate: 0.01, count: 200 },
    ];
    const path = file('events.json', JSON.stringify(events));
    const [rdp, pld] = await Promise.all([
      json(['epsilon', '--events', path, '--delta', '1e-6', '--accountant', 'rdp']),
      json(['epsilon', '--events', path, '--delta', '1e-6', '--accountant', 'pld']),
    ]);
    expect(rdp['epsilon']).toBe(computeEpsilon(events, 1e-6, 'rdp').epsilon);
    expect(pld['epsilon']).toBe(computeEpsilon(events, 1e-6, 'pld').epsilon);
    expect(rdp).toMatchObject({ accountant: 'rdp', events: 3, rounds: 1000, delta: 1e-6 });
    expect(pld['accountant']).toBe('pld');
  });

  it('events split across entries compose like one; "-" reads the file from stdin', async () => {
    const out = await json(['epsilon', '--events', '-', '--delta', '1e-5', '--accountant', 'rdp'], JSON.stringify([
      { noiseMultiplier: 1.5, sampleRate: 0.04, count: 1000 },
      { noiseMultiplier: 1.5, sampleRate: 0.04, count: 1250 },
    ]));
    expect(out['epsilon']).toBe(computeEpsilon([OPACUS_EVENT], 1e-5, 'rdp').epsilon);
    expect(out).toMatchObject({ eventsFile: '-', events: 2, rounds: 2250 });
  });

  it('accounts for sampling without replacement with rdp; best falls back to rdp', async () => {
    const args = ['epsilon', '--noise-multiplier', '1', '--sample-rate', '0.01', '--rounds', '1000', '--delta', '1e-5', '--sampling', 'without-replacement'];
    const out = await json(args);
    const direct = computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 1000, sampling: 'without-replacement' }], 1e-5, 'rdp');
    expect(out).toMatchObject({ accountant: 'rdp', epsilon: direct.epsilon, candidates: { pld: null } });
    const pld = await cli([...args, '--accountant', 'pld']);
    expect(pld.code).toBe(3);
    expect(pld.stderr).toMatch(/Poisson sampling only/);
  });

  it('accounts sampling without replacement at the replace-one sensitivity 2C: at q = 1 never below the exact Gaussian ε at σ/2', async () => {
    const out = await json(['epsilon', '--noise-multiplier', '1', '--sample-rate', '1', '--rounds', '1', '--delta', '1e-5', '--sampling', 'without-replacement']);
    // Balle & Wang 2018, exact: ≈ 10.0 (sensitivity C gave 4.73).
    expect(out['epsilon'] as number).toBeGreaterThanOrEqual(gaussianEpsilon(0.5, 1e-5));
    expect(out['epsilon'] as number).toBeLessThanOrEqual(gaussianEpsilon(0.5, 1e-5) * 1.15);
  });
});

describe.concurrent('conclave privacy calibrate', () => {
  it('matches calibrateNoiseMultiplier and reports the achieved epsilon (rdp)', async () => {
    const out = await json(['calibrate', '--target-epsilon', '2', '--delta', '1e-5', '--sample-rate', '0.04', '--rounds', '2250', '--accountant', 'rdp']);
    const sigma = calibrateNoiseMultiplier({ targetEpsilon: 2, delta: 1e-5, sampleRate: 0.04, rounds: 2250, accountant: 'rdp' });
    expect(out['noiseMultiplier']).toBe(sigma);
    expect(out['accountant']).toBe('rdp');
    expect(out['epsilon'] as number).toBeLessThanOrEqual(2);
    expect(out['epsilon'] as number).toBeGreaterThan(1.99);
    expect(out['epsilon']).toBe(computeEpsilon([{ noiseMultiplier: sigma, sampleRate: 0.04, count: 2250 }], 1e-5, 'rdp').epsilon);
    expect(out).toMatchObject({ targetEpsilon: 2, delta: 1e-5, sampleRate: 0.04, rounds: 2250 });
  });

  it('round-trips: calibrating to the Opacus ε gives back σ ≈ 1.5', async () => {
    const out = await json(['calibrate', '--target-epsilon', '7.329111171458229', '--delta', '1e-5', '--sample-rate', '0.04', '--rounds', '2250', '--accountant', 'rdp']);
    expect(out['noiseMultiplier'] as number).toBeCloseTo(1.5, 3);
  });

  it('honours --accountant pld; the default (best) picks the smaller noise multiplier', async () => {
    const args = ['calibrate', '--target-epsilon', '4', '--delta', '1e-5', '--sample-rate', '0.02', '--rounds', '500'];
    const [pld, best] = await Promise.all([json([...args, '--accountant', 'pld']), json(args)]);
    expect(pld['accountant']).toBe('pld');
    expect(pld['noiseMultiplier']).toBe(calibrateNoiseMultiplier({ targetEpsilon: 4, delta: 1e-5, sampleRate: 0.02, rounds: 500, accountant: 'pld' }));
    expect(pld['epsilon'] as number).toBeLessThanOrEqual(4);
    const { rdp: rdpSigma, pld: pldSigma } = best['candidates'] as { rdp: number; pld: number };
    expect(best['noiseMultiplier']).toBe(Math.min(rdpSigma, pldSigma));
    expect(best['accountant']).toBe(pldSigma < rdpSigma ? 'pld' : 'rdp');
  });

  it('prints a short human line without --json', async () => {
    const run = await cli(['calibrate', '--target-epsilon', '2', '--delta', '1e-5', '--sample-rate', '0.04', '--rounds', '2250', '--accountant', 'rdp']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^σ = 4\.17\d* gives ε = 1\.99\d* ≤ 2 at δ = .*rdp accountant/);
  });
});

describe('conclave privacy: help', () => {
  it('--help lists the subcommands with examples; each subcommand\'s --help its flags and exit codes; all exit 0', async () => {
    const [group, epsilon, calibrate] = await Promise.all([cli(['--help']), cli(['epsilon', '--help']), cli(['calibrate', '--help'])]);
    for (const run of [group, epsilon, calibrate]) expect(run.code).toBe(0);
    expect(group.stdout).toMatch(/^ +epsilon +the \(ε, δ\) guarantee/m);
    expect(group.stdout).toMatch(/^ +calibrate +the smallest noise multiplier/m);
    expect(group.stdout).toMatch(/conclave privacy epsilon --noise-multiplier 1\.5/);
    expect(epsilon.stdout).toMatch(/--noise-multiplier <S>/);
    expect(epsilon.stdout).toMatch(/--events <FILE>/);
    expect(epsilon.stdout).not.toMatch(/--target-epsilon/);
    expect(calibrate.stdout).toMatch(/--target-epsilon <E>/);
    expect(epsilon.stdout).toMatch(/2 +usage error/);
    expect(epsilon.stdout).toMatch(/3 +invalid value/);
    expect(epsilon.stdout).toMatch(/replace-one adjacency[^]*2C/);
    expect(epsilon.stdout).toMatch(/ε = ∞ \(exit 3\)/);
  });
});

const EPS = ['epsilon', '--noise-multiplier', '1', '--sample-rate', '0.01', '--rounds', '100', '--delta', '1e-5'];
const CAL = ['calibrate', '--target-epsilon', '2', '--delta', '1e-5', '--sample-rate', '0.01', '--rounds', '100'];
function replace(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}
function drop(args: string[], flag: string): string[] {
  const i = args.indexOf(flag);
  return [...args.slice(0, i), ...args.slice(i + 2)];
}

// [name, args, exit code, stderr pattern]
const BAD: Array<[string, string[] | (() => string[]), number, RegExp]> = [
  // usage errors: exit 2
  ['no subcommand', [], 2, /privacy needs a subcommand/],
  ['unknown subcommand', ['budget'], 2, /unknown privacy subcommand "budget"/],
  ['unknown flag', [...EPS, '--epsilon', '3'], 2, /Unknown option '--epsilon'/],
  ['flag of the other subcommand', [...CAL, '--noise-multiplier', '1'], 2, /Unknown option '--noise-multiplier'/],
  ['stray argument', [...EPS, 'extra'], 2, /unexpected argument "extra"/],
  ['missing --delta', drop(EPS, '--delta'), 2, /--delta is required/],
  ['missing --rounds', drop(EPS, '--rounds'), 2, /--rounds is required/],
  ['missing --sample-rate', drop(EPS, '--sample-rate'), 2, /--sample-rate is required/],
  ['neither --events nor a mechanism', ['epsilon', '--delta', '1e-5'], 2, /either --events FILE or --noise-multiplier/],
  ['both --events and --noise-multiplier', () => ['epsilon', '--events', file('both.json', JSON.stringify([{ noiseMultiplier: 1, sampleRate: 0.1, count: 1 }])), '--noise-multiplier', '1', '--delta', '1e-5'], 2, /--events cannot be combined with --noise-multiplier/],
  ['missing --target-epsilon', drop(CAL, '--target-epsilon'), 2, /--target-epsilon is required/],
  ['missing calibrate --rounds', drop(CAL, '--rounds'), 2, /--rounds is required/],
  // invalid values: exit 3
  ['negative noise multiplier', replace(EPS, '--noise-multiplier', '-1'), 3, /--noise-multiplier must be a positive number.*"-1"/],
  ['zero noise multiplier', replace(EPS, '--noise-multiplier', '0'), 3, /--noise-multiplier must be a positive number/],
  ['NaN noise multiplier', replace(EPS, '--noise-multiplier', 'NaN'), 3, /--noise-multiplier must be a positive number.*"NaN"/],
  ['non-numeric sample rate', replace(EPS, '--sample-rate', 'abc'), 3, /--sample-rate must be a number in \(0, 1\]/],
  ['sample rate 0', replace(EPS, '--sample-rate', '0'), 3, /--sample-rate must be a number in \(0, 1\]/],
  ['sample rate above 1', replace(EPS, '--sample-rate', '1.5'), 3, /--sample-rate must be a number in \(0, 1\].*"1.5"/],
  ['negative sample rate', replace(EPS, '--sample-rate', '-0.1'), 3, /--sample-rate must be a number in \(0, 1\]/],
  ['delta 0', replace(EPS, '--delta', '0'), 3, /--delta must be a number in \(0, 1\)/],
  ['delta 1', replace(EPS, '--delta', '1'), 3, /--delta must be a number in \(0, 1\)/],
  ['negative delta', replace(EPS, '--delta', '-1e-5'), 3, /--delta must be a number in \(0, 1\)/],
  ['fractional rounds', replace(EPS, '--rounds', '2.5'), 3, /--rounds must be a positive integer.*"2.5"/],
  ['zero rounds', replace(EPS, '--rounds', '0'), 3, /--rounds must be a positive integer/],
  ['negative rounds', replace(EPS, '--rounds', '-5'), 3, /--rounds must be a positive integer.*"-5"/],
  ['unknown accountant', [...EPS, '--accountant', 'moments'], 3, /--accountant must be one of rdp, pld, best/],
  ['unknown sampling', [...EPS, '--sampling', 'shuffle'], 3, /--sampling must be one of poisson, without-replacement/],
  ['missing events file', ['epsilon', '--events', join(dir, 'nope.json'), '--delta', '1e-5'], 3, /cannot read events file .*no such file/],
  ['events file that is not JSON', () => ['epsilon', '--events', file('bad.json', '{"noiseMultiplier": 1,'), '--delta', '1e-5'], 3, /is not valid JSON/],
  ['events file that is not an array', () => ['epsilon', '--events', file('obj.json', JSON.stringify({ noiseMultiplier: 1, sampleRate: 0.1, count: 1 })), '--delta', '1e-5'], 3, /must hold a JSON array.*got object/],
  ['empty events array', () => ['epsilon', '--events', file('empty.json', '[]'), '--delta', '1e-5'], 3, /empty array/],
  ['event with a string field', () => ['epsilon', '--events', file('str.json', JSON.stringify([{ noiseMultiplier: '1.5', sampleRate: 0.1, count: 1 }])), '--delta', '1e-5'], 3, /event\[0\]\.noiseMultiplier must be a number, got "1.5"/],
  ['event with a missing field', () => ['epsilon', '--events', file('miss.json', JSON.stringify([{ noiseMultiplier: 1, sampleRate: 0.1, count: 1 }, { noiseMultiplier: 1, count: 2 }])), '--delta', '1e-5'], 3, /event\[1\]\.sampleRate is missing/],
  ['event that is not an object', () => ['epsilon', '--events', file('num.json', '[1]'), '--delta', '1e-5'], 3, /event\[0\] must be an object/],
  ['event with a negative σ', () => ['epsilon', '--events', file('neg.json', JSON.stringify([{ noiseMultiplier: -1, sampleRate: 0.1, count: 1 }])), '--delta', '1e-5'], 3, /event\[0\]: noiseMultiplier must be a non-negative number/],
  ['event with a fractional count', () => ['epsilon', '--events', file('frac.json', JSON.stringify([{ noiseMultiplier: 1, sampleRate: 0.1, count: 1.5 }])), '--delta', '1e-5'], 3, /event\[0\]: count must be a positive integer/],
  ['event with σ = 0 (unbounded ε)', () => ['epsilon', '--events', file('zero.json', JSON.stringify([{ noiseMultiplier: 0, sampleRate: 0.1, count: 1 }])), '--delta', '1e-5'], 3, /ε is unbounded/],
  // σ = 1e-155: 1/(2σ²) overflows float64; PLD used to print ε = 0 and exit 0.
  ['σ too small for float64 (pld)', [...replace(EPS, '--noise-multiplier', '1e-155'), '--accountant', 'pld'], 3, /ε = ∞ at δ = .*pld accountant.*unbounded/],
  ['σ too small for float64 (rdp)', [...replace(EPS, '--noise-multiplier', '1e-155'), '--accountant', 'rdp'], 3, /ε = ∞ .*rdp accountant/],
  ['σ too small for float64 (best, q = 1)', replace(replace(EPS, '--noise-multiplier', '1e-155'), '--sample-rate', '1'), 3, /ε = ∞ at δ/],
  ['non-positive target epsilon', replace(CAL, '--target-epsilon', '0'), 3, /--target-epsilon must be a positive number/],
  ['NaN target epsilon', replace(CAL, '--target-epsilon', 'nan'), 3, /--target-epsilon must be a positive number/],
  ['calibrate: q above 1', replace(CAL, '--sample-rate', '2'), 3, /--sample-rate must be a number in \(0, 1\]/],
  ['unreachable calibration target', ['calibrate', '--target-epsilon', '1e-6', '--delta', '1e-5', '--sample-rate', '1', '--rounds', '100000', '--accountant', 'rdp'], 3, /not reachable/],
];

// Every bad input runs in-process through the CLI's own dispatcher (main(), the function coordinator/cli/conclave.js calls),
// with and without --json; starting a process per case would cost ~40 s. SPAWNED cases also run as real processes.
const SPAWNED = new Set([
  'missing --delta', 'both --events and --noise-multiplier', 'negative noise multiplier', 'event with a string field',
  'unreachable calibration target', 'σ too small for float64 (pld)',
]);

const inProcess = (args: string[]): Promise<CliRun> => runCliInProcess(['privacy', ...args]);

describe('conclave privacy: bad input (in-process, every case)', () => {
  for (const [name, args, code, pattern] of BAD) {
    it(`${name} → exit ${code}`, async () => {
      const argv = typeof args === 'function' ? args() : args;
      const run = await inProcess(argv);
      expect(run.code).toBe(code);
      expect(run.stderr).toMatch(/^conclave: /);
      expect(run.stderr).toMatch(pattern);
      expect(run.stdout).toBe('');
      const withJson = await inProcess([...argv, '--json']);
      expect(withJson.code).toBe(code);
      const error = (JSON.parse(withJson.stdout) as { error: { message: string; code: string; exitCode: number } }).error;
      expect(error.exitCode).toBe(code);
      expect(error.message).toMatch(pattern);
      // Invalid values carry a DP_ error code; usage errors are plain CLI errors.
      if (code === 3) expect(error.code).toMatch(/^DP_/);
      else expect(error.code).toBe('CLI_ERROR');
    });
  }
});

describe.concurrent('conclave privacy: bad input (real processes)', () => {
  for (const [name, args, code, pattern] of BAD.filter(([n]) => SPAWNED.has(n))) {
    it(`${name} → exit ${code}`, async () => {
      const run = await cli(typeof args === 'function' ? args() : args);
      expect(run.code).toBe(code);
      expect(run.stderr).toMatch(/^conclave: /);
      expect(run.stderr).toMatch(pattern);
      expect(run.stdout).toBe('');
    });
  }

  it('with --json the error is also JSON on stdout, with the exit code and a DP_ code for invalid values', async () => {
    const [invalid, usage] = await Promise.all([cli([...replace(EPS, '--delta', '2'), '--json']), cli([...drop(EPS, '--delta'), '--json'])]);
    expect(invalid.code).toBe(3);
    expect(JSON.parse(invalid.stdout)).toEqual({ error: { message: expect.stringMatching(/--delta must be a number in \(0, 1\)/), code: 'DP_INVALID_PARAMETER', exitCode: 3 } });
    expect(invalid.stderr).toMatch(/--delta must be/);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout).error).toMatchObject({ code: 'CLI_ERROR', exitCode: 2 });
  });
});
