import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FederationMsg, GetLedgerResponseMsg, RoundMsg } from '../../protocols/index.ts';
import { adminClient, callUnary, downloadModel } from '../../client-sdk/connection.ts';
import { simulatedTestData, type SimulatedSplit } from '../../client-sdk/data/simulated.ts';
import { setFlatWeights } from '../../client-sdk/models/weights.ts';
import { modelFromTopology } from '../../client-sdk/models/export.ts';
import { evaluate } from '../../client-sdk/training/trainer.ts';
import { selectBackend } from '../../client-sdk/tfjs/backend.ts';
import { CliError, EXIT, int, num, oneOf, parseFlags } from './args.ts';
import { PRIVACY_OPTIONS, PRIVACY_USAGE, federationConfigFromFlags } from './federation-command.ts';
import { configMessage } from '../federation-config.ts';
import { watchFederation } from './round-model-commands.ts';

const USAGE = `usage: conclave simulate [--sites 4] [--rounds 3] [--model mlp|cnn] [--partition iid|dirichlet] [--alpha 0.5]
                         [--seed 1] [--protection none] [--sites-per-round N] [--min-sites N] [--deadline-ms 300000]
                         [--local-epochs E] [--batch-size B] [--lr LR] [--optimizer sgd|adam]
                         [--backend auto|wasm|cpu] [--timeout-s 3600] [--data-dir DIR] [--json]
                         [--dp central|distributed --noise-multiplier S --clip C [--adaptive-clip (central)] [--budget E --delta D]]

Starts a coordinator and one OS process per site, all talking gRPC on 127.0.0.1, runs the rounds,
evaluates every new global model on the held-out test split and prints one line per round
(stderr). With --json, stdout gets the summary. Process logs go to DATA_DIR/simulations/<federation>/.

${PRIVACY_USAGE}
With --dp, every round reports the federation's ε and each site's ε from the privacy ledger.`;

const OPTIONS = {
  sites: { type: 'string' }, rounds: { type: 'string' }, model: { type: 'string' }, partition: { type: 'string' }, alpha: { type: 'string' },
  seed: { type: 'string' }, protection: { type: 'string' }, 'sites-per-round': { type: 'string' }, 'min-sites': { type: 'string' },
  'deadline-ms': { type: 'string' }, 'local-epochs': { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' },
  optimizer: { type: 'string' }, backend: { type: 'string' }, 'timeout-s': { type: 'string' }, name: { type: 'string' },
  ...PRIVACY_OPTIONS,
} as const;

const BIN = fileURLToPath(new URL('./conclave.js', import.meta.url));

export interface SimulationRound {
  round: number;
  modelVersion: number;
  testAccuracy: number;
  testLoss: number;
  sites: number;
  examples: number;
  elapsedMs: number;
  /** Federation-level ε after this round (tighter of RDP and PLD), with DP on. */
  epsilon?: number;
  accountant?: string;
  /** Each site's ε after this round, by site name. */
  siteEpsilon?: Record<string, number>;
  clipNorm?: number;
  /** As configured (derived from the local ε under local DP) and as the release actually carried it. */
  noiseMultiplier?: number;
  effectiveNoiseMultiplier?: number;
}

export async function simulateCommand(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv, OPTIONS, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  const sites = int(flags, 'sites', { min: 1, max: 256, fallback: 4 });
  const split: SimulatedSplit = {
    dataset: 'mnist',
    partition: oneOf(flags, 'partition', ['iid', 'dirichlet'] as const, 'iid'),
    sites,
    alpha: num(flags, 'alpha', { fallback: 0.5, test: (v) => v > 0 && v <= 1e6, expect: 'a positive number' }),
    seed: int(flags, 'seed', { min: 0, max: 2 ** 31, fallback: 1 }),
  };
  const config = federationConfigFromFlags({
    ...flags, model: flags['model'] ?? 'mlp', rounds: flags['rounds'] ?? '3', seed: String(split.seed),
    'sites-per-round': flags['sites-per-round'] ?? String(sites), 'deadline-ms': flags['deadline-ms'] ?? '300000',
    name: flags['name'] ?? `simulation-${split.partition}-${sites}`,
  });
  if (config.sitesPerRound > sites) throw new CliError(`--sites-per-round (${config.sitesPerRound}) cannot exceed --sites (${sites})`);
  const backendPreference = oneOf(flags, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, 'auto');
  const timeoutMs = int(flags, 'timeout-s', { min: 1, max: 7 * 24 * 3600, fallback: 3600 }) * 1000;
  const dataDir = resolve(String(flags['data-dir']));
  const started = Date.now();
  const progress = (line: string) => process.stderr.write(`[simulate] ${line}\n`);

  const children: ChildProcess[] = [];
  let failure: Error | null = null;
  const fail = (err: Error) => {
    failure ??= err;
  };
  const killAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  const deadline = setTimeout(() => fail(new CliError(`simulation did not finish within ${timeoutMs / 1000} s`, EXIT.FAILURE)), timeoutMs);
  deadline.unref();

  mkdirSync(dataDir, { recursive: true });
  const coordinatorLog = createWriteStream(join(dataDir, 'coordinator-simulate.log'), { flags: 'a' });
  const coordinator = spawn(process.execPath, [BIN, 'coordinator', 'start', '--port', '0', '--data-dir', dataDir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(coordinator);
  coordinator.stderr!.pipe(coordinatorLog);
  const info = await firstJsonLine<{ address: string; adminTokenPath: string }>(coordinator, 'coordinator');
  let admin: ReturnType<typeof adminClient> | null = null;
  try {
    const adminToken = readFileSync(info.adminTokenPath, 'utf8').trim();
    admin = adminClient(info.address);
    const federation = await callUnary<FederationMsg>(admin, 'CreateFederation', { config: configMessage(config) }, adminToken);
    const simDir = join(dataDir, 'simulations', federation.id);
    mkdirSync(simDir, { recursive: true, mode: 0o700 });
    progress(`federation ${federation.id}: ${config.model}, ${sites} sites (${split.partition}${split.partition === 'dirichlet' ? ` α=${split.alpha}` : ''}), ${config.rounds} rounds, coordinator ${info.address}`);

    const tokenFiles: string[] = [];
    for (let i = 0; i < sites; i++) {
      const site = await callUnary<{ siteId: string; token: string }>(admin, 'EnrollSite', { federationId: federation.id, siteName: `site-${i}` }, adminToken);
      const path = join(simDir, `site-${i}.token`);
      writeFileSync(path, site.token + '\n', { mode: 0o600 });
      tokenFiles.push(path);
    }

    // Evaluation runs in this process, on data no site ever loads.
    const { tf, backend, reason } = await selectBackend({ prefer: backendPreference });
    progress(`tfjs backend: ${backend} (${reason})`);
    const test = simulatedTestData(split);
    const events = watchFederation(admin, adminToken, federation.id);
    await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: federation.id }, adminToken);

    const siteBackends = new Set<string>();
    for (let i = 0; i < sites; i++) {
      const args = [BIN, 'participant', 'run', '--coordinator', info.address, '--token-file', tokenFiles[i]!, '--dataset', 'mnist',
        '--partition', split.partition, '--alpha', String(split.alpha), '--sites', String(sites), '--site-index', String(i),
        '--seed', String(split.seed), '--backend', backendPreference];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      const log = createWriteStream(join(simDir, `site-${i}.log`));
      createInterface({ input: child.stderr! }).on('line', (line) => {
        log.write(line + '\n');
        if (line.includes('"type":"backend"')) {
          try {
            siteBackends.add((JSON.parse(line) as { backend: string }).backend);
          } catch { /* a partial line is only a log line */ }
        }
      });
      child.on('exit', (code, signal) => {
        log.end();
        if (code !== 0 && !failure) fail(new CliError(`site ${i} exited with ${signal ?? `code ${code}`}; see ${join(simDir, `site-${i}.log`)}`, EXIT.FAILURE));
      });
    }
    coordinator.on('exit', (code, signal) => {
      if (!failure) fail(new CliError(`coordinator exited unexpectedly (${signal ?? `code ${code}`}); see ${join(dataDir, 'coordinator-simulate.log')}`, EXIT.FAILURE));
    });

    const model = await modelFromTopology(tf, (await downloadModel(admin, adminToken, { federationId: federation.id, version: 0 })).topologyJson);
    const rounds: SimulationRound[] = [];
    const aborted: Array<{ round: number; reason: string }> = [];
    const seen = new Set<string>();
    let finishReason = '';
    for await (const event of raceFailure(events, () => failure)) {
      const round: RoundMsg | null | undefined = event.round;
      if (round && !seen.has(round.id) && (round.state === 'committed' || round.state === 'aborted')) {
        seen.add(round.id);
        if (round.state === 'aborted') {
          aborted.push({ round: round.number, reason: round.abortReason });
          progress(`round ${round.number} aborted: ${round.abortReason}`);
          continue;
        }
        const weights = await downloadModel(admin, adminToken, { federationId: federation.id, version: round.resultVersion });
        setFlatWeights(model, weights.layout, weights.values);
        const metrics = await evaluate(model, test);
        const entry: SimulationRound = {
          round: round.number, modelVersion: round.resultVersion, testAccuracy: metrics.accuracy, testLoss: metrics.loss,
          sites: round.submittedSites.length, examples: round.totalExamples, elapsedMs: Date.now() - started,
        };
        if (config.privacy) {
          const ledger = await callUnary<GetLedgerResponseMsg>(admin, 'GetLedger', { federationId: federation.id }, adminToken);
          const lastEntry = ledger.entries.at(-1);
          entry.epsilon = ledger.federation?.epsilon ?? 0;
          entry.accountant = ledger.federation?.accountant ?? 'rdp';
          entry.siteEpsilon = Object.fromEntries(ledger.participants.map((p) => [p.siteName, p.epsilon.epsilon]));
          if (lastEntry) {
            const recorded = (JSON.parse(lastEntry.payloadJson) as { event: { clipNorm: number; configuredNoiseMultiplier: number; noiseMultiplier: number } }).event;
            entry.clipNorm = recorded.clipNorm;
            entry.noiseMultiplier = recorded.configuredNoiseMultiplier;
            entry.effectiveNoiseMultiplier = recorded.noiseMultiplier;
          }
        }
        rounds.push(entry);
        const dp = entry.epsilon === undefined ? '' : ` | ε ${entry.epsilon.toFixed(3)} (${entry.accountant}, δ=${config.privacy!.delta})`;
        progress(`round ${rounds.length}/${config.rounds} → v${entry.modelVersion} | ${entry.sites}/${round.selectedSites.length} sites | ${entry.examples} examples | test acc ${entry.testAccuracy.toFixed(4)} loss ${entry.testLoss.toFixed(4)}${dp} | ${(entry.elapsedMs / 1000).toFixed(1)}s`);
      }
      if (event.federation?.status === 'finished') {
        finishReason = event.federation.finishReason;
        if (rounds.length < config.rounds) progress(`federation stopped early: ${finishReason}`);
        break;
      }
    }
    model.dispose();
    if (failure) throw failure;
    await Promise.all(children.slice(1).map((child) => exited(child, 30_000)));
    const last = rounds.at(-1);
    const summary = {
      federation: federation.id,
      model: config.model,
      protection: config.protection,
      partition: split.partition,
      ...(split.partition === 'dirichlet' ? { alpha: split.alpha } : {}),
      seed: split.seed,
      sites,
      backend: siteBackends.size === 1 ? [...siteBackends][0] : siteBackends.size === 0 ? backend : [...siteBackends].join(','),
      rounds,
      abortedRounds: aborted,
      testAccuracy: last?.testAccuracy ?? null,
      testLoss: last?.testLoss ?? null,
      finishReason,
      ...(config.privacy ? {
        privacy: { ...config.privacy, noiseMultiplier: last?.noiseMultiplier ?? config.privacy.noiseMultiplier, epsilon: last?.epsilon ?? 0, accountant: last?.accountant ?? 'rdp', siteEpsilon: last?.siteEpsilon ?? {} },
      } : {}),
      wallTimeMs: Date.now() - started,
      dataDir,
      logs: simDir,
    };
    progress(`done in ${(summary.wallTimeMs / 1000).toFixed(1)}s: final test accuracy ${last?.testAccuracy.toFixed(4) ?? 'n/a'}`);
    if (flags['json']) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } finally {
    clearTimeout(deadline);
    admin?.close();
    killAll();
    await Promise.all(children.map((child) => exited(child, 10_000)));
    coordinatorLog.end();
  }
}

async function firstJsonLine<T>(child: ChildProcess, what: string): Promise<T> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise<T>((resolvePromise, reject) => {
    const onExit = (code: number | null) => reject(new CliError(`${what} exited (code ${code}) before it was ready`, EXIT.UNAVAILABLE));
    child.once('exit', onExit);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      try {
        resolvePromise(JSON.parse(line) as T);
      } catch {
        reject(new CliError(`${what} printed an unexpected first line: ${line}`, EXIT.FAILURE));
      }
    });
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Ends the event stream as soon as a child process fails, instead of waiting for the next event. */
async function* raceFailure<T>(source: AsyncGenerator<T>, failed: () => Error | null): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    const next = iterator.next();
    let poll: NodeJS.Timeout | undefined;
    const failure = new Promise<'failed'>((resolvePromise) => {
      poll = setInterval(() => failed() && resolvePromise('failed'), 200);
    });
    const result = await Promise.race([next, failure]);
    clearInterval(poll);
    if (result === 'failed') {
      await iterator.return?.(undefined);
      return;
    }
    if (result.done) return;
    yield result.value;
  }
}
