/**
 * The operator's CLI against one real coordinator (a child process) for the whole file: help of
 * every command, usage errors, unknown ids, an unreachable coordinator, a refused token,
 * `federation create --config` (JSON, YAML, bad files), `federation list` and `participant list`.
 * Most commands run in-process through the dispatcher's main() (a process start costs about a
 * second of CPU); the failure paths an operator meets first also run as real processes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, participantClient } from '../../protocols/client.ts';
import { EXIT } from '../../protocols/cli.ts';
import { barLine, watchView } from '../../coordinator/cli/progress.ts';
import type { RoundMsg } from '../../protocols/index.ts';
import { firstJsonLine, freePort, killHard, runCliInProcess, spawnCli, waitExit, type CliProcess, type CliRun } from '../helpers/processes.ts';

const root = mkdtempSync(join(tmpdir(), 'conclave-admin-cli-'));
const dataDir = join(root, 'data');
let coordinator: CliProcess;
let address = '';

beforeAll(async () => {
  coordinator = spawnCli('coordinator', ['coordinator', 'start', '--data-dir', dataDir, '--port', '0', '--json']);
  address = (await firstJsonLine<{ address: string }>(coordinator, 30_000)).address;
}, 40_000);

afterAll(async () => {
  if (coordinator) await killHard(coordinator);
  rmSync(root, { recursive: true, force: true });
});


/** The dispatcher in this process, with this file's data directory unless the call names one. */
const cli = (...args: string[]): Promise<CliRun> => runCliInProcess([...args, ...(args.includes('--data-dir') ? [] : ['--data-dir', dataDir])]);

async function json<T>(...args: string[]): Promise<T> {
  const run = await cli(...args, '--json');
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

function file(name: string, content: string): string {
  const path = join(root, name);
  writeFileSync(path, content);
  return path;
}

describe('help', () => {
  it('every command and subcommand has generated help with an example, --json and the exit codes', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    for (let code = 0; code <= 9; code++) expect(top.stdout).toMatch(new RegExp(`^ +${code} +\\S`, 'm'));
    const { commandHelps } = await import('../../coordinator/cli/main.ts');
    const commands = await commandHelps();
    expect(commands.map((c) => c.name)).toEqual(['coordinator', 'federation', 'participant', 'round', 'model', 'ledger', 'audit', 'privacy', 'simulate']);
    for (const { name, help } of commands) {
      expect(top.stdout).toContain(`  ${name}`);
      const group = await cli(name, '--help');
      expect(group.code, name).toBe(0);
      expect(group.stdout).toContain(`Usage: conclave ${name}`);
      expect(group.stdout).toContain('Examples:');
      const leaves = help.subcommands ? Object.keys(help.subcommands).map((sub) => [name, sub]) : [[name]];
      for (const argv of leaves) {
        const run = await cli(...argv, '--help');
        expect(run.code, argv.join(' ')).toBe(0);
        expect(run.stdout, argv.join(' ')).toContain(`Usage: conclave ${argv.join(' ')}`);
        expect(run.stdout, argv.join(' ')).toMatch(/Examples:\n {2}conclave /);
        expect(run.stdout, argv.join(' ')).toContain('--json');
        expect(run.stdout, argv.join(' ')).toContain('Exit codes:');
        // The drift this replaced: a help text that printed a template placeholder.
        expect(run.stdout, argv.join(' ')).not.toMatch(/\$\{|undefined|\[object /);
      }
    }
  }, 60_000);

  it('a subcommand\'s help lists only the flags it takes', async () => {
    const show = await cli('round', 'show', '--help');
    expect(show.stdout).toContain('--round <N>');
    expect(show.stdout).not.toContain('--reason');
    const create = await cli('federation', 'create', '--help');
    for (const flag of ['--config <FILE>', '--dp <central|distributed|local>', '--strategy <NAME>', '--budget <EPSILON>']) expect(create.stdout).toContain(flag);
  });
});

describe('usage errors (exit 2)', () => {
  it.each([
    [['round', 'list', '--federation', 'x', '--bogus', '1'], /Unknown option '--bogus'.*conclave round list --help/],
    [['round', 'list', '--federation'], /--federation needs a value \(got the flag --data-dir\)|argument missing/],
    [['round', 'show', '--federation', 'x', '--reason', 'y'], /Unknown option '--reason'/],
    [['round'], /round needs a subcommand \(list, show, abort, watch\)/],
    [['model', 'undo'], /unknown model subcommand "undo"/],
    [['federation', 'list', 'extra'], /unexpected argument "extra"/],
    [['nonsense'], /unknown command "nonsense"/],
    [['participant', 'list'], /--federation is required/],
  ])('%j', async (args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(EXIT.USAGE);
    expect(run.stderr).toMatch(message);
    const withJson = await cli(...args, '--json');
    expect(JSON.parse(withJson.stdout).error).toMatchObject({ exitCode: EXIT.USAGE, code: 'CLI_ERROR' });
  });
});

describe('against a running coordinator', () => {
  let dpFederation = '';
  let plainFederation = '';

  it('federation create --config: YAML, JSON, flags over the file', async () => {
    const yaml = file('federation.yaml', `name: from-yaml
model: mlp
rounds: 4
sitesPerRound: 3
privacy:
  mode: central
  noiseMultiplier: 1.1
  clipNorm: 0.5
  budgetEpsilon: 8
`);
    const fromYaml = await json<{ id: string; config: { name: string; rounds: number; sitesPerRound: number; minSites: number; privacy: { noiseMultiplier: number; clipNorm: number; budgetEpsilon: number; delta: number; sampleRate: number } } }>(
      'federation', 'create', '--config', yaml);
    expect(fromYaml.config).toMatchObject({ name: 'from-yaml', rounds: 4, sitesPerRound: 3, minSites: 3 });
    expect(fromYaml.config.privacy).toMatchObject({ noiseMultiplier: 1.1, clipNorm: 0.5, budgetEpsilon: 8, delta: 1e-5, sampleRate: 1 });
    dpFederation = fromYaml.id;

    const jsonFile = file('federation.json', JSON.stringify({ name: 'from-json', model: 'mlp', rounds: 2, training: { localEpochs: 2 } }));
    const fromJson = await json<{ id: string; config: { name: string; rounds: number; training: { localEpochs: number; batchSize: number }; privacy: unknown } }>(
      'federation', 'create', '--config', jsonFile, '--rounds', '6', '--name', 'overridden');
    expect(fromJson.config).toMatchObject({ name: 'overridden', rounds: 6, training: { localEpochs: 2 } });
    expect(fromJson.config.training.batchSize).toBeGreaterThan(0);
    expect(fromJson.config.privacy).toBeNull();
    plainFederation = fromJson.id;
  }, 60_000);

  it('federation create --config refuses a bad file naming the file and the key path (exit 3), before any call', async () => {
    const cases: Array<[string, RegExp]> = [
      [file('unknown-key.yaml', 'name: x\nmodel: mlp\nroundz: 3\n'), /unknown-key\.yaml: .*roundz|unknown-key\.yaml: \(top level\): .*roundz/],
      [file('bad-delta.json', JSON.stringify({ model: 'mlp', privacy: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 0.5 } })), /bad-delta\.json: privacy\.delta: must be at most 1e-3/],
      [file('bad-type.yaml', 'model: mlp\ntraining:\n  batchSize: lots\n'), /bad-type\.yaml: training\.batchSize/],
      [file('broken.yaml', 'name: [unclosed\n'), /broken\.yaml is not valid YAML/],
      [file('broken.json', '{"name": '), /broken\.json is not valid JSON/],
      [file('list.yaml', '- a\n- b\n'), /list\.yaml: the top level must be a mapping/],
      [join(root, 'missing.yaml'), /missing\.yaml: no such file/],
    ];
    for (const [path, message] of cases) {
      const run = await cli('federation', 'create', '--config', path, '--coordinator', '127.0.0.1:1');
      expect(run.code, `${path}: ${run.stderr}`).toBe(EXIT.INVALID_INPUT);
      expect(run.stderr).toMatch(message);
    }
    // A flag's value the schema refuses is named by the flag.
    const flag = await cli('federation', 'create', '--model', 'mlp', '--dp', 'central', '--noise-multiplier', '1', '--clip', '1', '--delta', '0.2', '--coordinator', '127.0.0.1:1');
    expect(flag.code).toBe(EXIT.INVALID_INPUT);
    expect(flag.stderr).toMatch(/--delta \(privacy\.delta\): must be at most 1e-3/);
  }, 60_000);

  it('federation list and show; an unknown id is exit 4', async () => {
    const list = await json<Array<{ id: string; config: { name: string } }>>('federation', 'list');
    expect(list.map((f) => f.id)).toEqual(expect.arrayContaining([dpFederation, plainFederation]));
    const text = await cli('federation', 'list');
    expect(text.stdout).toContain('"from-yaml"');
    expect((await json<{ id: string }>('federation', 'show', dpFederation)).id).toBe(dpFederation);
    for (const args of [['federation', 'show', 'no-such-federation'], ['round', 'list', '--federation', 'no-such-federation'],
      ['participant', 'list', '--federation', 'no-such-federation'], ['model', 'show', '--federation', dpFederation, '--version', '99']]) {
      const run = await cli(...args);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(EXIT.NOT_FOUND);
    }
  });

  it('participant list: state, last seen, rounds, ε spent and budget left', async () => {
    const a = await json<{ siteId: string; token: string }>('participant', 'enroll', '--federation', dpFederation, '--name', 'site-a');
    const b = await json<{ siteId: string }>('participant', 'enroll', '--federation', dpFederation, '--name', 'site-b', '--budget', '3');
    await json('participant', 'revoke', '--federation', dpFederation, '--site', b.siteId);
    // One call with site-a's token: it has been seen.
    const client = participantClient(address);
    await getTask(client, a.token, 0);
    client.close();
    const report = await json<{ federationId: string; delta: number; sites: Array<{ name: string; state: string; lastSeen: string | null; roundsParticipated: number; epsilon: number; budgetEpsilon: number | null; budgetLeft: number | null }> }>(
      'participant', 'list', '--federation', dpFederation);
    expect(report).toMatchObject({ federationId: dpFederation, delta: 1e-5 });
    const byName = Object.fromEntries(report.sites.map((s) => [s.name, s]));
    expect(byName['site-a']).toMatchObject({ state: 'enrolled', roundsParticipated: 0, epsilon: 0, budgetEpsilon: 8, budgetLeft: 8 });
    expect(Date.now() - Date.parse(byName['site-a']!.lastSeen!)).toBeLessThan(60_000);
    expect(byName['site-b']).toMatchObject({ state: 'revoked', lastSeen: null, budgetEpsilon: 3, budgetLeft: 3 });
    const text = await cli('participant', 'list', '--federation', dpFederation);
    expect(text.stdout).toMatch(/^SITE +ID +STATE +LAST SEEN +ROUNDS +ELIGIBLE +ε SPENT +BUDGET LEFT$/m);
    expect(text.stdout).toMatch(/^site-b +\S+ +revoked +never +0 +0 +0\.0000 +3\.0000 of 3$/m);
  });

  it('a wrong or missing admin token is exit 5; an unreachable coordinator is exit 6 (real processes)', async () => {
    const port = await freePort();
    const [wrong, missing, unreachable] = await Promise.all([
      waitExit(spawnCli('wrong-token', ['federation', 'list', '--coordinator', address, '--token', 'not-the-token', '--data-dir', dataDir]), 30_000),
      waitExit(spawnCli('no-token', ['federation', 'list', '--coordinator', address, '--data-dir', join(root, 'empty')]), 30_000),
      waitExit(spawnCli('unreachable', ['round', 'list', '--federation', 'x', '--coordinator', `127.0.0.1:${port}`, '--token', 't', '--json']), 30_000),
    ]);
    expect(wrong.code).toBe(EXIT.AUTH);
    expect(missing.code).toBe(EXIT.AUTH);
    expect(unreachable.code).toBe(EXIT.UNAVAILABLE);
    const inProcess = await cli('federation', 'list', '--coordinator', address, '--token', 'not-the-token');
    expect(inProcess.stderr).toMatch(/the coordinator refused the token.*--token/);
    const down = await cli('round', 'list', '--federation', 'x', '--coordinator', `127.0.0.1:${port}`, '--token', 't');
    expect(down.stderr).toMatch(/cannot reach the coordinator/);
    const nothingRecorded = await cli('federation', 'list', '--data-dir', join(root, 'empty'));
    expect(nothingRecorded.code).toBe(EXIT.UNAVAILABLE);
  }, 60_000);
});

describe('round watch views', () => {
  const round = (over: Partial<RoundMsg>) => ({
    id: 'r1', federationId: 'f', number: 2, state: 'collecting', baseVersion: 1, resultVersion: 0, selectedSites: ['a', 'b', 'c'], submittedSites: ['a'],
    abortReason: '', openedUnixMs: 0, closedUnixMs: 0, totalExamples: 0, stage: 'submit', stageDeadlineUnixMs: 95_000, stageExpected: 3, stageAnswered: 1,
    bytesReceived: 3 * 1024 * 1024, federatedEvaluation: null, clippedUpdates: 0, cappedWeights: 0, refusedUpdates: 0, ...over,
  }) as RoundMsg & { federatedEvaluation: null };

  it('the bar shows stage, sites answered of those live, bytes and time to the deadline', () => {
    const line = barLine({ round: round({}), rounds: 5, committed: 1, status: 'running' }, '[##]', 30_000);
    expect(line).toBe('round 2/5 [##] 1/3 sites | stage submit | 3.0 MiB in | deadline 1m05s | 1 committed');
    const done = barLine({ round: round({ state: 'committed', submittedSites: ['a', 'b'], stageExpected: 0, stageAnswered: 0 }), rounds: 5, committed: 2, status: 'running' }, '[##]', 30_000);
    expect(done).toContain('2/3 sites | stage submit | 3.0 MiB in | deadline -');
  });

  it('piped: one plain line per change, with the stage, the sites that answered it and the bytes the bar shows', () => {
    let written = '';
    const stream = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const view = watchView('lines', stream);
    view.event({ round: round({ stage: '', state: 'open', stageAnswered: 0, stageExpected: 0, bytesReceived: 0 }), federation: null });
    view.event({ round: round({}), federation: null });
    view.event({ round: round({}), federation: null }); // nothing changed: no line
    view.event({ round: round({ stage: 'unmask', stageAnswered: 2, bytesReceived: 5 * 1024 * 1024 }), federation: null });
    // An ended round's event carries no progress fields: its line keeps the bytes last shown.
    view.event({ round: round({ state: 'committed', resultVersion: 2, submittedSites: ['a', 'b', 'c'], totalExamples: 300, bytesReceived: 0 }), federation: null });
    view.stop();
    expect(written.split('\n')).toEqual([
      'round 2 open on v1 : 1/3 sites, 0 examples | stage planning 0/0 answered | 0 B in',
      'round 2 collecting on v1 : 1/3 sites, 0 examples | stage submit 1/3 answered | 3.0 MiB in',
      'round 2 collecting on v1 : 1/3 sites, 0 examples | stage unmask 2/3 answered | 5.0 MiB in',
      'round 2 committed on v1 → v2: 3/3 sites, 300 examples | stage submit | 5.0 MiB in',
      '',
    ]);
  });
});
