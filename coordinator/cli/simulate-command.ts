import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FederationMsg, GetLedgerResponseMsg, RoundMsg } from '../../protocols/index.ts';
import { adminClient, callUnary, createFederation, downloadModel } from '../../protocols/client.ts';
import { CliError, EXIT, described, int, num, oneOf, parseFlags, type CommandHelp } from '../../protocols/cli.ts';
import { PRIVACY_OPTIONS, PRIVACY_USAGE, federationConfigFromFlags } from './federation-command.ts';
import { STRATEGY_OPTIONS, STRATEGY_USAGE } from './strategy-flags.ts';
import { ROUND_EXTRA_OPTIONS } from './round-flags.ts';
import { ATTACK_OPTIONS, attackArgs, attackFromFlags } from './attack-flags.ts';
import { PROTECTION_OPTIONS, PROTECTION_USAGE } from './protection-flags.ts';
import { configMessage, parseFederationConfig } from '../federation-config.ts';
import { SECAGG_OPTIONS, SECAGG_USAGE, describeSecAggChoice, secAggChoice } from './secagg-flags.ts';
import { watchFederation } from './round-model-commands.ts';
import { watchView, type WatchView } from './progress.ts';
import { modelSourceFromFlags, type LoadModelTools, type SimulationEvaluator } from './model-tools.ts';
import { SiteWorkerReport } from './site-workers.ts';
import { participantSeries } from '../audit/recompute.ts';
import type { LedgerPayload } from '../privacy/ledger.ts';

type RecordedPayload = LedgerPayload & { epsilonAfter?: { epsilon: number; accountant: string } };

const ONE_PROCESS_PER_SITE_UP_TO = 8;
/**
 * Under --dropout every drop waits out a deadline: shorter defaults than a real federation's, but
 * long enough for the sites one process hosts to take their turns on its one thread (measured with
 * 100 sites in 4 processes on 2 cores shared with other work: ~6 s of training and up to ~4 s of
 * share-keys or masked-input per hosted site and round).
 */
const DROPOUT_DEADLINE_MS = 120_000;
const DROPOUT_STAGE_DEADLINE_MS = 15_000;
const dropoutDeadlines = (sitesPerProcess: number) => ({
  round: Math.max(DROPOUT_DEADLINE_MS, 8_000 * sitesPerProcess),
  stage: Math.max(DROPOUT_STAGE_DEADLINE_MS, 5_000 * sitesPerProcess),
});
/** Enrollments in flight at once: each signs a token and commits a row. */
const ENROLL_CONCURRENCY = 16;

export const SIMULATE_HELP: CommandHelp = {
  command: 'simulate',
  summary: 'a whole federation on this machine: a coordinator and the sites\' processes over gRPC on 127.0.0.1',
  examples: [
    'conclave simulate --sites 4 --rounds 3 --model mlp --seed 1',
    'conclave simulate --sites 4 --rounds 3 --dp central --noise-multiplier 1 --clip 1 --budget 8 --json --data-dir ./sim',
    'conclave simulate --sites 200 --site-processes 4 --partition dirichlet --alpha 0.3 --rounds 5',
  ],
  details: `Runs the rounds, evaluates every new global model on the held-out test split and reports each round on stderr:
a live progress bar on a terminal, one line per round otherwise. With --json, stdout gets the summary. Process logs go
to DATA_DIR/simulations/<federation>/. Every site has its own token and gRPC channel; --site-processes P spreads the N
sites over P processes ("participant host"), each loading the data once, so hundreds of sites run on a few cores.
--model PATH/model.json must take an MNIST digit ([28, 28, 1] or [784]) and output 10 class probabilities.
With --dp, every round reports the federation's ε and each site's ε from the privacy ledger.
--dropout P: the dropping site goes silent until that stage's deadline, so each drop costs a deadline:
with --dropout, --deadline-ms defaults to max(${DROPOUT_DEADLINE_MS}, 8000 x sites per process) (it must cover training),
secagg's --stage-deadline-ms to max(${DROPOUT_STAGE_DEADLINE_MS}, 5000 x sites per process) and --min-sites to 1 (secagg
still needs t survivors). Each round reports its selected sites and its survivors (the sites whose update is in it).

${SECAGG_USAGE}
${STRATEGY_USAGE}
${PROTECTION_USAGE}
${PRIVACY_USAGE}`,
};

/** The help line of each of simulate's own flags (the federation's flags carry theirs). */
const SIMULATE_FLAG_HELP: Record<string, string> = {
  sites: 'simulated sites (default 4), each with its own MNIST shard, token and channel',
  rounds: 'rounds to run (default 3)',
  model: 'mlp (default), cnn, or PATH/model.json (your own tfjs LayersModel)',
  partition: 'iid (default) or dirichlet: how MNIST is split over the sites',
  alpha: 'dirichlet: the concentration (default 0.5; smaller is more skewed)',
  seed: 'seeds the split, the model and training (default 1)',
  protection: 'how updates travel to the aggregate: none (default), secagg or he',
  'sites-per-round': 'sites selected per round (default all)',
  'min-sites': 'quorum per round (default: sites per round)',
  'deadline-ms': 'each stage\'s deadline (default 300000)',
  'local-epochs': 'local epochs (default: the model\'s)',
  'batch-size': 'local batch size (default: the model\'s)',
  lr: 'local learning rate (default: the model\'s)',
  optimizer: 'sgd or adam (default: the model\'s)',
  backend: 'auto (default), tensorflow, wasm or cpu: the tfjs backend of the sites and the evaluation',
  'timeout-s': 'give up after this long (default 3600)',
  name: 'the federation\'s name (default simulation-PARTITION-SITES)',
  'site-processes': `OS processes the sites are spread over (default: one per site up to ${ONE_PROCESS_PER_SITE_UP_TO} sites, else one per CPU core)`,
  workers: 'worker processes per site, data-parallel, one update per round (default 1)',
  dropout: 'TEST TOOLING: each site drops out of each round with probability P, at a random stage (see below)',
};

const OPTIONS = {
  sites: { type: 'string' }, rounds: { type: 'string' }, model: { type: 'string' }, partition: { type: 'string' }, alpha: { type: 'string' },
  seed: { type: 'string' }, protection: { type: 'string' }, 'sites-per-round': { type: 'string' }, 'min-sites': { type: 'string' },
  'deadline-ms': { type: 'string' }, 'local-epochs': { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' },
  optimizer: { type: 'string' }, backend: { type: 'string' }, 'timeout-s': { type: 'string' }, name: { type: 'string' }, 'site-processes': { type: 'string' },
  workers: { type: 'string' }, dropout: { type: 'string' },
  ...PRIVACY_OPTIONS,
  ...STRATEGY_OPTIONS,
  ...ROUND_EXTRA_OPTIONS,
  ...ATTACK_OPTIONS,
  ...PROTECTION_OPTIONS,
  ...SECAGG_OPTIONS,
} as const;

/** Sites a simulation may enroll; every one is a token, a channel and a shard (MNIST has 8,000 training digits). */
const MAX_SITES = 8_000;
const BIN = fileURLToPath(new URL('./conclave.js', import.meta.url));

export interface SimulationRound {
  round: number;
  modelVersion: number;
  testAccuracy: number;
  testLoss: number;
  sites: number;
  examples: number;
  elapsedMs: number;
  /** The sites whose update is in the round's aggregate (for secagg: whose masked input was summed). */
  survivors: number;
  /** Federation-level ε after this round (tighter of RDP and PLD), with DP on. */
  epsilon?: number;
  accountant?: string;
  /** Each site's ε after this round, by site name. */
  siteEpsilon?: Record<string, number>;
  clipNorm?: number;
  /** As configured (derived from the local ε under local DP) and as the release actually carried it. */
  noiseMultiplier?: number;
  effectiveNoiseMultiplier?: number;
  /** --eval-every: the sites' held-out evaluation of this round's base model (federatedModelVersion = modelVersion − 1). */
  federatedAccuracy?: number;
  federatedLoss?: number;
  federatedModelVersion?: number;
  /** What the coordinator's bounds did to this round's updates: scaled to the norm bound, weight capped, refused. */
  bounded: { clipped: number; capped: number; refused: number };
}

/**
 * `loadModelTools` is injected by the dispatcher: building version 0 and scoring each new global
 * model need tfjs, which this room never imports; the sites run in their own processes.
 */
export async function simulateCommand(argv: string[], deps: { loadModelTools: LoadModelTools }): Promise<void> {
  const { flags } = parseFlags(argv, described(OPTIONS, SIMULATE_FLAG_HELP), SIMULATE_HELP);
  const sites = int(flags, 'sites', { min: 1, max: MAX_SITES, fallback: 4 });
  const siteProcesses = int(flags, 'site-processes', {
    min: 1, max: sites, fallback: sites <= ONE_PROCESS_PER_SITE_UP_TO ? sites : Math.min(sites, availableParallelism()),
  });
  const split = {
    partition: oneOf(flags, 'partition', ['iid', 'dirichlet'] as const, 'iid'),
    sites,
    alpha: num(flags, 'alpha', { fallback: 0.5, test: (v) => v > 0 && v <= 1e6, expect: 'a positive number' }),
    seed: int(flags, 'seed', { min: 0, max: 2 ** 31, fallback: 1 }),
  };
  const attack = attackFromFlags(flags, sites);
  const source = modelSourceFromFlags(flags, 'mlp');
  const tools = await deps.loadModelTools();
  const dropout = flags['dropout'] === undefined ? 0 : num(flags, 'dropout', { test: (v) => v >= 0 && v < 1, expect: 'a probability in [0, 1)' });
  const deadlines = dropoutDeadlines(Math.ceil(sites / siteProcesses));
  const config = federationConfigFromFlags({
    ...flags, rounds: flags['rounds'] ?? '3', seed: String(split.seed),
    'sites-per-round': flags['sites-per-round'] ?? String(sites), 'deadline-ms': flags['deadline-ms'] ?? String(dropout > 0 ? deadlines.round : 300_000),
    // A round with drops goes on with its survivors (secagg still needs its t of them).
    ...(dropout > 0 ? { 'min-sites': flags['min-sites'] ?? '1' } : {}),
    // Refused attackers must not take the quorum down with them: by default a round needs its honest sites only.
    ...(dropout === 0 && attack && flags['min-sites'] === undefined ? { 'min-sites': String(Math.max(1, Number(flags['sites-per-round'] ?? sites) - attack.sites.length)) } : {}),
    ...(dropout > 0 && flags['protection'] === 'secagg' ? { 'stage-deadline-ms': flags['stage-deadline-ms'] ?? String(deadlines.stage) } : {}),
    name: flags['name'] ?? `simulation-${split.partition}-${sites}`,
  }, source, tools.trainingDefaults(source));
  if (config.sitesPerRound > sites) throw new CliError(`--sites-per-round (${config.sitesPerRound}) cannot exceed --sites (${sites})`);
  const backendPreference = oneOf(flags, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, 'auto');
  const workers = int(flags, 'workers', { min: 1, max: 256, fallback: 1 });
  const timeoutMs = int(flags, 'timeout-s', { min: 1, max: 7 * 24 * 3600, fallback: 3600 }) * 1000;
  // Before any process starts: a model MNIST cannot train is refused here (exit 3), not by every site.
  const initialModel = await tools.initialModel(source, { seed: config.seed, fits: 'mnist' });
  const dataDir = resolve(String(flags['data-dir']));
  const started = Date.now();
  // On a terminal, once rounds run, the same live bar as "round watch" (stderr: stdout keeps the --json summary); piped, plain lines as before.
  let view: WatchView | null = null;
  const progress = (line: string) => (view ? view.log(`[simulate] ${line}`) : void process.stderr.write(`[simulate] ${line}\n`));

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
  let evaluator: SimulationEvaluator | null = null;
  try {
    const adminToken = readFileSync(info.adminTokenPath, 'utf8').trim();
    admin = adminClient(info.address);
    const federation = await createFederation(admin, adminToken, { config: configMessage(config), model: initialModel });
    const simDir = join(dataDir, 'simulations', federation.id);
    mkdirSync(simDir, { recursive: true, mode: 0o700 });
    progress(`federation ${federation.id}: ${source.kind === 'file' ? source.path : config.model}, ${sites} sites (${split.partition}${split.partition === 'dirichlet' ? ` α=${split.alpha}` : ''}) in ${siteProcesses} processes, ${config.rounds} rounds, coordinator ${info.address}`);
    const secagg = secAggChoice(config);
    if (secagg) progress(describeSecAggChoice(secagg));
    if (dropout > 0) progress(`simulated dropout: each site drops out of each round with probability ${dropout}, at a random stage`);

    // Each site is enrolled with its shard's size, as an operator would with a site's declared dataset size: its weight cap.
    const shardSizes = await tools.simulationShardSizes({ partition: split.partition, sites, alpha: split.alpha, seed: split.seed });
    // Tokens go to 0600 files the site processes read (never onto a command line).
    for (let first = 0; first < sites; first += ENROLL_CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(ENROLL_CONCURRENCY, sites - first) }, async (_, k) => {
        const i = first + k;
        const site = await callUnary<{ siteId: string; token: string }>(admin!, 'EnrollSite', { federationId: federation.id, siteName: `site-${i}`, maxExamples: shardSizes[i] }, adminToken);
        writeFileSync(join(simDir, `site-${i}.token`), site.token + '\n', { mode: 0o600 });
      }));
    }

    // Evaluation runs in this process, on data no site ever loads.
    evaluator = await tools.simulationEvaluator({ seed: split.seed, backend: backendPreference });
    progress(`tfjs backend: ${evaluator.backend} (${evaluator.reason})`);
    const backend = evaluator.backend;
    const events = watchFederation(admin, adminToken, federation.id);
    await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: federation.id }, adminToken);

    const siteBackends = new Set<string>();
    const siteWorkers = new SiteWorkerReport();
    for (let p = 0; p < siteProcesses; p++) {
      // Round-robin, so Dirichlet shards of every size spread over the processes.
      const indices = Array.from({ length: Math.ceil((sites - p) / siteProcesses) }, (_, k) => p + k * siteProcesses);
      const args = [BIN, 'participant', 'host', '--coordinator', info.address, '--token-dir', simDir, '--site-indices', indices.join(','),
        '--dataset', 'mnist', '--partition', split.partition, '--alpha', String(split.alpha), '--sites', String(sites),
        '--seed', String(split.seed), '--backend', backendPreference, ...(workers > 1 ? ['--workers', String(workers)] : []), ...attackArgs(attack, indices),
        ...(dropout > 0 ? ['--dropout', String(dropout), '--dropout-seed', String(split.seed)] : [])];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      const logPath = join(simDir, siteProcesses === sites ? `site-${p}.log` : `sites-${p}.log`);
      const log = createWriteStream(logPath);
      createInterface({ input: child.stderr! }).on('line', (line) => {
        log.write(line + '\n');
        siteWorkers.take(line);
        if (line.includes('"type":"backend"')) {
          try {
            siteBackends.add((JSON.parse(line) as { backend: string }).backend);
          } catch { /* a partial line is only a log line */ }
        }
      });
      child.on('exit', (code, signal) => {
        log.end();
        const who = indices.length === 1 ? `site ${indices[0]}` : `the process hosting sites ${indices.slice(0, 3).join(', ')}${indices.length > 3 ? ', …' : ''}`;
        if (code !== 0 && !failure) fail(new CliError(`${who} exited with ${signal ?? `code ${code}`}; see ${logPath}`, EXIT.FAILURE));
      });
    }
    coordinator.on('exit', (code, signal) => {
      if (!failure) fail(new CliError(`coordinator exited unexpectedly (${signal ?? `code ${code}`}); see ${join(dataDir, 'coordinator-simulate.log')}`, EXIT.FAILURE));
    });

    const rounds: SimulationRound[] = [];
    const aborted: Array<{ round: number; reason: string; bounded: SimulationRound['bounded'] }> = [];
    const seen = new Set<string>();
    let finishReason = '';
    if (process.stderr.isTTY) view = watchView('bar', process.stderr, { endedRounds: false });
    for await (const event of raceFailure(events, () => failure)) {
      view?.event(event);
      const round: RoundMsg | null | undefined = event.round;
      if (round && !seen.has(round.id) && (round.state === 'committed' || round.state === 'aborted')) {
        seen.add(round.id);
        if (round.state === 'aborted') {
          aborted.push({ round: round.number, reason: round.abortReason, bounded: { clipped: round.clippedUpdates, capped: round.cappedWeights, refused: round.refusedUpdates } });
          progress(`round ${round.number} aborted: ${round.abortReason}`);
          continue;
        }
        const metrics = await evaluator.evaluate(await downloadModel(admin, adminToken, { federationId: federation.id, version: round.resultVersion }));
        const entry: SimulationRound = {
          round: round.number, modelVersion: round.resultVersion, testAccuracy: metrics.accuracy, testLoss: metrics.loss,
          sites: round.selectedSites.length, survivors: round.submittedSites.length, examples: round.totalExamples, elapsedMs: Date.now() - started,
          ...(round.federatedEvaluation ? {
            federatedAccuracy: round.federatedEvaluation.accuracy, federatedLoss: round.federatedEvaluation.loss, federatedModelVersion: round.federatedEvaluation.modelVersion,
          } : {}),
          bounded: { clipped: round.clippedUpdates, capped: round.cappedWeights, refused: round.refusedUpdates },
        };
        if (config.privacy) {
          const ledger: GetLedgerResponseMsg = await callUnary<GetLedgerResponseMsg>(admin, 'GetLedger', { federationId: federation.id }, adminToken);
          // This round's own entry: a round charged when it opened (local, distributed) is followed by
          // the next round's charge before this report is read, and the federation's total includes it.
          const payloads = ledger.entries.map((e): RecordedPayload => JSON.parse(e.payloadJson));
          const ownIndex = payloads.findIndex((p) => p.roundId === round.id);
          const own = payloads[ownIndex]?.epsilonAfter;
          entry.epsilon = own?.epsilon ?? ledger.federation?.epsilon ?? 0;
          entry.accountant = own?.accountant ?? ledger.federation?.accountant ?? 'rdp';
          if (ownIndex >= 0 && ownIndex < payloads.length - 1) {
            // Later charges are in the ledger's per-site totals: recompute each site's ε up to this round's entry.
            const series = participantSeries(payloads.slice(0, ownIndex + 1));
            entry.siteEpsilon = Object.fromEntries(ledger.participants.map((p) => [p.siteName, series.get(p.siteId)?.at(-1)?.epsilon ?? 0]));
          } else {
            entry.siteEpsilon = Object.fromEntries(ledger.participants.map((p) => [p.siteName, p.epsilon.epsilon]));
          }
          const recordedEntry = payloads[ownIndex] ?? payloads.at(-1);
          if (recordedEntry) {
            const recorded = recordedEntry.event as unknown as { clipNorm: number; configuredNoiseMultiplier: number; noiseMultiplier: number };
            entry.clipNorm = recorded.clipNorm;
            entry.noiseMultiplier = recorded.configuredNoiseMultiplier;
            entry.effectiveNoiseMultiplier = recorded.noiseMultiplier;
          }
        }
        rounds.push(entry);
        const dp = entry.epsilon === undefined ? '' : ` | ε ${entry.epsilon.toFixed(3)} (${entry.accountant}, δ=${config.privacy!.delta})`
          + (entry.federatedAccuracy === undefined ? '' : ` | v${entry.federatedModelVersion} federated acc ${entry.federatedAccuracy.toFixed(4)}`);
        const { clipped, capped, refused } = entry.bounded;
        const bounds = clipped + capped + refused ? ` | bounded: ${clipped} clipped, ${capped} capped, ${refused} refused` : '';
        progress(`round ${rounds.length}/${config.rounds} → v${entry.modelVersion} | ${entry.survivors}/${entry.sites} sites | ${entry.examples} examples | test acc ${entry.testAccuracy.toFixed(4)} loss ${entry.testLoss.toFixed(4)}${dp}${bounds} | ${(entry.elapsedMs / 1000).toFixed(1)}s`);
      }
      if (event.federation?.status === 'finished') {
        finishReason = event.federation.finishReason;
        if (rounds.length < config.rounds) progress(`federation stopped early: ${finishReason}`);
        break;
      }
    }
    if (failure) throw failure;
    await Promise.all(children.slice(1).map((child) => exited(child, 30_000)));
    const last = rounds.at(-1);
    const summary = {
      federation: federation.id,
      model: config.model,
      ...(source.kind === 'file' ? { modelFile: resolve(source.path) } : {}),
      // A protocol with parameters as the coordinator resolved it (the flags leave defaults out).
      protection: typeof config.protection === 'string' ? config.protection : parseFederationConfig(config).protection,
      ...(secagg ? { secagg } : {}),
      ...(dropout > 0 ? { dropout } : {}),
      partition: split.partition,
      ...(split.partition === 'dirichlet' ? { alpha: split.alpha } : {}),
      seed: split.seed,
      sites,
      ...(attack ? { attack } : {}),
      siteProcesses,
      backend: siteBackends.size === 1 ? [...siteBackends][0] : siteBackends.size === 0 ? backend : [...siteBackends].join(','),
      siteWorkers: siteWorkers.summary(),
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
    view?.stop();
    clearTimeout(deadline);
    evaluator?.dispose();
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
