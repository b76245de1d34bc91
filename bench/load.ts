/**
 * Issue 13's load acceptance: many live sites (each its own token and gRPC channel) on one
 * coordinator, 10% of them disconnecting at random moments, for R rounds.
 *
 *   node_modules/.bin/node bench/load.ts [--sites 500] [--rounds 10] [--site-processes 4] [--flaky 0.1]
 *                                        [--flaky-processes 5] [--deadline-ms 20000] [--seed 1] [--timeout-s 1800]
 *                                        [--coordinator-cpu-prof DIR]
 *
 * The coordinator runs as `conclave coordinator start` (its own process, so its RSS is its own);
 * the sites run as `participant host` processes, the many-sites path of `conclave simulate`:
 * the steady sites spread over --site-processes, the flaky ones over --flaky-processes, each of
 * which is SIGKILLed after a random 2–25 s and restarted 0.5–3 s later (its sites reconnect with
 * their tokens) until the federation finishes. Every site is in every round (sitesPerRound =
 * sites); the quorum is 80%, so a round whose killed sites never answer closes at its deadline.
 *
 * Measured:
 * - every round's outcome: committed, or aborted with its reason; none left open;
 * - the coordinator's RSS (/proc/PID/status VmRSS) when each round closes; the acceptance compares
 *   the 2nd and the last committed round (within 20%);
 * - GetTask latency under that load: probe sites of a second, never-started federation call
 *   GetTask(waitMs 0) 10 times a second each (a long poll's latency is its wait, so the sites'
 *   own calls measure nothing); p50/p99/max over the whole run.
 * One JSON object on stdout; progress on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { adminClient, callUnary, createFederation, getTask, participantClient } from '../protocols/client.ts';
import type { FederationMsg, RoundMsg } from '../protocols/index.ts';
import { configMessage, type FederationConfigInput } from '../coordinator/federation-config.ts';
import { watchFederation } from '../coordinator/cli/round-model-commands.ts';
import { modelTools } from '../client-sdk/cli/model-tools.ts';
import { createRng } from '../client-sdk/data/dataset.ts';

const BIN = fileURLToPath(new URL('../coordinator/cli/conclave.js', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    sites: { type: 'string', default: '500' }, rounds: { type: 'string', default: '10' }, 'site-processes': { type: 'string', default: '4' },
    flaky: { type: 'string', default: '0.1' }, 'flaky-processes': { type: 'string', default: '5' }, 'deadline-ms': { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' }, 'timeout-s': { type: 'string', default: '1800' }, probes: { type: 'string', default: '4' },
    'coordinator-cpu-prof': { type: 'string' },
  },
});
const positive = (name: keyof typeof flags, max: number): number => {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || v <= 0 || v > max) throw new Error(`--${name} must be a number in (0, ${max}]`);
  return v;
};
const SITES = Math.floor(positive('sites', 8000));
const ROUNDS = Math.floor(positive('rounds', 1000));
const STEADY_PROCESSES = Math.floor(positive('site-processes', 64));
const FLAKY = Math.round(SITES * Number(flags.flaky));
const FLAKY_PROCESSES = Math.min(FLAKY, Math.floor(positive('flaky-processes', 64)));
const DEADLINE_MS = Math.floor(positive('deadline-ms', 3_600_000));
const SEED = Math.floor(positive('seed', 2 ** 31));
const PROBES = Math.floor(positive('probes', 64));
const rng = createRng(SEED);
const progress = (line: string) => process.stderr.write(`[load] ${line}\n`);

const dataDir = mkdtempSync(join(tmpdir(), 'conclave-load-'));
const children = new Set<ChildProcess>();
let stopping = false;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

// --coordinator-cpu-prof DIR: a V8 CPU profile of the coordinator's thread, written when it stops (2 ms sampling).
const profiling = flags['coordinator-cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${flags['coordinator-cpu-prof']}`, '--cpu-prof-interval', '2000'] : [];
const coordinator = spawn(process.execPath, [...profiling, BIN, 'coordinator', 'start', '--port', '0', '--data-dir', dataDir, '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
children.add(coordinator);
const info = await new Promise<{ address: string; adminTokenPath: string; pid: number }>((resolve, reject) => {
  coordinator.once('exit', (code) => reject(new Error(`coordinator exited (${code}) before it was ready`)));
  createInterface({ input: coordinator.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
});
const adminToken = readFileSync(info.adminTokenPath, 'utf8').trim();
const admin = adminClient(info.address);
const started = Date.now();
let result: Record<string, unknown> = {};
try {
  const source = { kind: 'zoo' as const, architecture: 'mlp' as const };
  const model = await modelTools.initialModel(source, { seed: SEED });
  const config: FederationConfigInput = {
    name: `load-${SITES}`, model: 'mlp', rounds: ROUNDS, sitesPerRound: SITES, minSites: Math.ceil(0.8 * SITES), roundDeadlineMs: DEADLINE_MS,
    seed: SEED, protection: { kind: 'none' }, training: { ...modelTools.trainingDefaults(source), localEpochs: 1 }, privacy: null,
  };
  const federation = await createFederation(admin, adminToken, { config: configMessage(config), model });
  const probeFederation = await createFederation(admin, adminToken, { config: configMessage({ ...config, name: 'load-probes' }), model });
  const tokenDir = join(dataDir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const shardSizes = await modelTools.simulationShardSizes({ partition: 'iid', sites: SITES, alpha: 0.5, seed: SEED });
  for (let first = 0; first < SITES; first += 16) {
    await Promise.all(Array.from({ length: Math.min(16, SITES - first) }, async (_, k) => {
      const i = first + k;
      const site = await callUnary<{ token: string }>(admin, 'EnrollSite', { federationId: federation.id, siteName: `site-${i}`, maxExamples: shardSizes[i] }, adminToken);
      writeFileSync(join(tokenDir, `site-${i}.token`), site.token + '\n', { mode: 0o600 });
    }));
  }
  const probeTokens = await Promise.all(Array.from({ length: PROBES }, async (_, i) =>
    (await callUnary<{ token: string }>(admin, 'EnrollSite', { federationId: probeFederation.id, siteName: `probe-${i}` }, adminToken)).token));
  progress(`${SITES} sites enrolled (${FLAKY} flaky in ${FLAKY_PROCESSES} processes, the rest in ${STEADY_PROCESSES}); coordinator pid ${info.pid}, ${rssMb(info.pid).toFixed(0)} MB`);

  const events = watchFederation(admin, adminToken, federation.id);
  await callUnary<FederationMsg>(admin, 'StartFederation', { federationId: federation.id }, adminToken);

  const hostArgs = (indices: number[]) => [BIN, 'participant', 'host', '--coordinator', info.address, '--token-dir', tokenDir, '--site-indices', indices.join(','),
    '--dataset', 'mnist', '--partition', 'iid', '--sites', String(SITES), '--seed', String(SEED), '--backend', 'wasm'];
  const hostFailures: Array<{ sites: string; code: number | null; lastLines: string[] }> = [];
  const host = (indices: number[], steadyHost = false) => {
    const child = spawn(process.execPath, hostArgs(indices), { stdio: ['ignore', 'ignore', steadyHost ? 'pipe' : 'ignore'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    if (steadyHost) {
      // A steady host that fails is a finding: keep what it said last (its sites' events are JSON lines).
      const lines: string[] = [];
      const log = createWriteStream(join(dataDir, `host-${indices[0]}.log`));
      createInterface({ input: child.stderr! }).on('line', (line) => {
        log.write(line + '\n');
        lines.push(line.slice(0, 400));
        if (lines.length > 5) lines.shift();
      });
      child.once('exit', (code) => {
        log.end();
        if (code !== 0 && !stopping) {
          hostFailures.push({ sites: `${indices[0]}…`, code, lastLines: [...lines] });
          progress(`steady host (sites ${indices[0]}, …) exited with ${code}: ${lines.at(-1) ?? ''}`);
        }
      });
    }
    return child;
  };
  const steadyIndices = Array.from({ length: SITES - FLAKY }, (_, i) => FLAKY + i);
  const steady = Array.from({ length: STEADY_PROCESSES }, (_, p) => host(steadyIndices.filter((_, k) => k % STEADY_PROCESSES === p), true));
  const steadyExits = steady.map((child) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))));
  let kills = 0;
  const flakyLoops = Array.from({ length: FLAKY_PROCESSES }, async (_, p) => {
    const indices = Array.from({ length: FLAKY }, (_, i) => i).filter((i) => i % FLAKY_PROCESSES === p);
    while (!stopping) {
      const child = host(indices);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const lifetime = 2000 + rng.next() * 23_000;
      const ended = await Promise.race([exited.then(() => true), sleep(lifetime).then(() => false)]);
      if (ended) return; // the federation finished: its sites were told so
      child.kill('SIGKILL');
      kills++;
      await exited;
      await sleep(500 + rng.next() * 2500);
    }
  });

  const latencies: number[] = [];
  let probeFailures = 0;
  const probeLoops = probeTokens.map(async (token) => {
    const client = participantClient(info.address);
    try {
      while (!stopping) {
        const t0 = performance.now();
        try {
          await getTask(client, token, 0);
          latencies.push(performance.now() - t0);
        } catch {
          probeFailures++;
        }
        await sleep(100);
      }
    } finally {
      client.close();
    }
  });

  const rounds: Array<{ round: number; state: string; reason?: string; submitted: number; selected: number; closedAfterS: number; rssMb: number }> = [];
  const seen = new Set<string>();
  const timeout = setTimeout(() => {
    progress('timed out');
    stopping = true;
    void events.return(undefined);
  }, Number(flags['timeout-s']) * 1000);
  let finishReason = '';
  for await (const event of events) {
    const round: RoundMsg | null | undefined = event.round;
    if (round && !seen.has(round.id) && (round.state === 'committed' || round.state === 'aborted')) {
      seen.add(round.id);
      const entry = {
        round: round.number, state: round.state, ...(round.abortReason ? { reason: round.abortReason } : {}), submitted: round.submittedSites.length,
        selected: round.selectedSites.length, closedAfterS: (Date.now() - started) / 1000, rssMb: rssMb(info.pid),
      };
      rounds.push(entry);
      progress(`round ${entry.round} ${entry.state}${entry.reason ? ` (${entry.reason})` : ''}: ${entry.submitted}/${entry.selected} sites, coordinator RSS ${entry.rssMb.toFixed(0)} MB, ${entry.closedAfterS.toFixed(0)} s`);
    }
    if (event.federation?.status === 'finished') {
      finishReason = event.federation.finishReason;
      break;
    }
  }
  clearTimeout(timeout);
  stopping = true;
  const steadyCodes = await Promise.race([Promise.all(steadyExits), sleep(60_000).then(() => null)]);
  await Promise.all([...flakyLoops, ...probeLoops]);
  const listed = (await callUnary<{ rounds: RoundMsg[] }>(admin, 'ListRounds', { federationId: federation.id }, adminToken)).rounds;
  const committed = rounds.filter((r) => r.state === 'committed');
  const second = committed[1];
  const last = committed.at(-1);
  const sorted = [...latencies].sort((a, b) => a - b);
  result = {
    sites: SITES, rounds: ROUNDS, steadyProcesses: STEADY_PROCESSES, flakySites: FLAKY, flakyProcesses: FLAKY_PROCESSES, flakyKills: kills,
    deadlineMs: DEADLINE_MS, finishReason,
    roundLog: rounds,
    committedRounds: committed.length,
    abortedRounds: rounds.filter((r) => r.state === 'aborted').length,
    everyRoundClosed: listed.every((r) => r.state === 'committed' || r.state === 'aborted'),
    coordinatorAlive: coordinator.exitCode === null && coordinator.signalCode === null,
    steadyHostsExitCodes: steadyCodes,
    steadyHostFailures: hostFailures,
    rss: second && last ? {
      atCommittedRound2Mb: second.rssMb, atLastCommittedRoundMb: last.rssMb, ratio: last.rssMb / second.rssMb,
      withinTwentyPercent: Math.abs(last.rssMb / second.rssMb - 1) <= 0.2,
    } : null,
    getTaskProbe: {
      calls: latencies.length, failures: probeFailures, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? NaN,
    },
    wallTimeS: (Date.now() - started) / 1000,
  };
} finally {
  stopping = true;
  admin.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await sleep(1000);
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
process.exit(0);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
