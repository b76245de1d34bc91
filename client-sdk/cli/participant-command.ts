/**
 * The site's entry points: `participant run` (one site, one process: what an organisation runs) and
 * `participant host` (many simulated sites in one process, each with its own token, gRPC channel
 * and model, for `conclave simulate --site-processes`). Operators' commands (enroll, revoke) live
 * in coordinator/cli; the `conclave` dispatcher routes between the two.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { generateSiteIdentity, identityFromPem, identityToPem, type SiteIdentity } from '../../crypto/site-identity.ts';
import { join } from 'node:path';
import { CLIENT_TLS_OPTIONS, CliError, EXIT, clientTlsFromFlags, described, int, num, oneOf, output, parseFlags, str, type CommandHelp, type Flags } from '../../protocols/cli.ts';
import { BUILT_IN_PROTOCOLS, Participant, type ParticipantEvent } from '../participant.ts';
import { withSimulatedDropout } from './simulated-dropout.ts';
import type { SiteProtocol } from '../protection/protocol.ts';
import { DP_MODES, parsePrivacyFloor, type PrivacyFloorOptions } from '../privacy-policy.ts';
import { simulatedSiteEvalShards, simulatedSiteShards, type SimulatedSplit } from '../data/simulated.ts';
import type { Dataset } from '../data/dataset.ts';
import type { LocalTrainer } from '../training/local-trainer.ts';
import { WorkerPoolTrainer } from '../training/worker-pool.ts';
import type { WorkerInfo, WorkerThroughput } from '../training/worker-report.ts';
import { ATTACKS, attackingTrainer } from '../simulation/attacker.ts';
import { SiteDataTrainer } from '../training/site-data-trainer.ts';
import { TfjsTrainer } from '../training/tfjs-trainer.ts';
import { openSiteData } from '../data/open.ts';
import { dataError, type SiteData } from '../data/site-data.ts';

const FLOOR_DETAILS = `The site's own privacy floor (--min-noise-multiplier, --max-clip, --site-budget/--site-delta, --require-dp,
--allow-modes): rounds below it are refused before training; under local and distributed DP the site keeps its own
ε budget (persisted in --privacy-state) and stops when it is spent.`;

export const SITE_HELP: CommandHelp = {
  command: 'participant',
  summary: 'a site\'s own process',
  subcommands: {
    run: {
      summary: 'one site, one process: what an organisation runs; trains on its data in every round it is selected for',
      examples: [
        'conclave participant run --coordinator coord.example.org:7070 --token-file site.token --tls-ca ca.pem --dataset mnist --sites 4 --site-index 0',
        'conclave participant run --coordinator 127.0.0.1:7070 --token-file site.token --dataset mnist --sites 2 --site-index 1 --min-noise-multiplier 0.8 --site-budget 10',
        'conclave participant run --coordinator coord.example.org:7070 --token-file site.token --tls-ca ca.pem --data ./train.csv --label-column species',
        'conclave participant run --coordinator coord.example.org:7070 --token-file site.token --tls-ca ca.pem --data ./images/',
      ],
      details: `${FLOOR_DETAILS} A simulated site (--dataset mnist) holds out its share of the test split for federated evaluation (--eval-every).`,
    },
    host: {
      summary: 'several simulated sites in this one process (tokens in DIR/site-<i>.token), each with its own gRPC channel and model; the data is loaded once',
      examples: [
        'conclave participant host --coordinator 127.0.0.1:7070 --token-dir ./tokens --site-indices 0,2,4 --dataset mnist --sites 6',
        'conclave participant host --coordinator 127.0.0.1:7070 --token-dir ./tokens --site-indices 0,1 --data ./sites --label-column species   # ./sites/site-0.csv, ./sites/site-1.csv',
      ],
      details: `Events go to stderr as JSON lines with "site". --privacy-state is per site and so is not taken here.
With --data DIR each site trains on its own files instead of an MNIST shard: DIR/site-<i>.csv or the image folder DIR/site-<i>/,
named like its token; every site's files are read and checked before any site connects. ${FLOOR_DETAILS}`,
    },
  },
};

const SITE_FLAG_HELP: Record<string, string> = {
  coordinator: 'the coordinator\'s participant address, HOST:PORT',
  token: 'the site\'s token (printed by "participant enroll"); prefer --token-file, which stays off the process list',
  'token-file': 'a file holding the site\'s token',
  'token-dir': 'host: the directory of site-<i>.token files',
  dataset: 'the simulated dataset: mnist',
  partition: 'iid (default) or dirichlet',
  alpha: 'dirichlet: the concentration (default 0.5)',
  sites: 'how many sites the dataset is split over',
  'site-index': 'run: which shard is this site\'s, in [0, sites)',
  'site-indices': 'host: the shards of the sites hosted here, comma-separated',
  seed: 'seeds the split (default 1)',
  backend: 'auto (default), tensorflow, wasm or cpu',
  workers: 'train on N worker processes (one core each), one update per round (default 1)',
  'min-noise-multiplier': 'refuse DP rounds with a smaller noise multiplier',
  'max-clip': 'refuse DP rounds with a larger clip norm',
  'site-budget': 'this site\'s own ε budget (with --site-delta)',
  'site-delta': 'the δ of --site-budget',
  'require-dp': 'refuse rounds without differential privacy',
  'allow-modes': 'the DP modes accepted, comma-separated: central,distributed,local',
  'privacy-state': 'run: the file the site\'s own ε spend is persisted in',
  data: 'run: the site\'s own data (host: a directory with each site\'s, site-<i>.csv or site-<i>/) instead of --dataset, checked against the federation\'s model and data spec before any training (exit 3 names the file and row or image): a CSV file with a header (every column but the label a numeric feature) or a folder with one subfolder of PNG/JPEG images per class (resized to the model\'s input)',
  'label-column': 'run --data FILE.csv: the label\'s column (default label)',
  attack: 'host, SIMULATION ONLY: huge-update, inflated-count or scaled-random; the --attack-sites attack every round (client-sdk/simulation/attacker.ts)',
  'attack-sites': 'host, with --attack: the attacking sites\' indices, comma-separated, among --site-indices',
  'identity-key': 'run: the site\'s Ed25519 identity key file (PKCS#8 PEM, created 0600 if missing); secure aggregation pins the first key a site signs with, so a site that restarts must keep it',
  dropout: 'host, TEST TOOLING for simulations: each site drops out of each round with probability P, at a stage drawn uniformly, and stays silent until that stage\'s deadline',
  'dropout-seed': 'host, with --dropout: seeds which sites drop and when',
};

const OPTIONS = {
  coordinator: { type: 'string' }, token: { type: 'string' }, ...CLIENT_TLS_OPTIONS,
  'token-file': { type: 'string' }, 'token-dir': { type: 'string' }, dataset: { type: 'string' }, partition: { type: 'string' }, alpha: { type: 'string' },
  sites: { type: 'string' }, 'site-index': { type: 'string' }, 'site-indices': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
  workers: { type: 'string' }, data: { type: 'string' }, 'label-column': { type: 'string' },
  'min-noise-multiplier': { type: 'string' }, 'max-clip': { type: 'string' }, 'site-budget': { type: 'string' }, 'site-delta': { type: 'string' },
  'require-dp': { type: 'boolean' }, 'allow-modes': { type: 'string' }, 'privacy-state': { type: 'string' },
  attack: { type: 'string' }, 'attack-sites': { type: 'string' },
  dropout: { type: 'string' }, 'dropout-seed': { type: 'string' }, 'identity-key': { type: 'string' },
} as const;

type Refusal = Extract<ParticipantEvent, { type: 'round-refused' }>;
type Privacy = Extract<ParticipantEvent, { type: 'privacy-charged' }>['privacy'];

interface SiteOutcome {
  site: number;
  examples: number;
  /** Each worker's backend and devices, with its share and speed in the site's last training epoch. */
  workers: Array<WorkerInfo & Partial<Omit<WorkerThroughput, 'index'>>>;
  /** The site's examples a second in its last training epoch (all workers together, wall clock). */
  examplesPerS: number | null;
  outcome: 'finished' | 'site-budget-exhausted';
  refusals: Refusal[];
  privacy: Privacy | null;
  last: ParticipantEvent | null;
}

export async function siteCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, described(OPTIONS, SITE_FLAG_HELP), SITE_HELP, sub);
  if (sub === 'run' && flags['data'] !== undefined) return runOnOwnData(flags);
  const ownData = sub === 'host' && flags['data'] !== undefined;
  if (!ownData && (flags['label-column'] !== undefined || flags['data'] !== undefined)) throw new CliError('--data and --label-column are for sites on their own data ("participant run" or "participant host")');
  if (ownData) refuseSimulatedFlags(flags, ['dataset', 'partition', 'alpha', 'seed']);
  const coordinator = str(flags, 'coordinator');
  oneOf(flags, 'dataset', ['mnist'] as const, 'mnist');
  // On own data --sites only bounds --site-indices: there is no split to make.
  const sites = int(flags, 'sites', { min: 1, max: 100_000, ...(ownData ? { fallback: 100_000 } : {}) });
  const split: SimulatedSplit = {
    dataset: 'mnist',
    partition: oneOf(flags, 'partition', ['iid', 'dirichlet'] as const, 'iid'),
    sites,
    alpha: num(flags, 'alpha', { fallback: 0.5, test: (v) => v > 0, expect: 'a positive number' }),
    seed: int(flags, 'seed', { min: 0, max: 2 ** 31, fallback: 1 }),
  };
  const backend = oneOf(flags, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, 'auto');
  const tls = clientTlsFromFlags(flags);
  const workers = int(flags, 'workers', { min: 1, max: 256, fallback: 1 });
  // A site's worker pool trains exactly what one worker would (worker-pool.ts); 1 keeps the in-process trainer.
  const trainerFor = (d: Dataset): { trainer: LocalTrainer } | Record<string, never> =>
    workers > 1 ? { trainer: new WorkerPoolTrainer(d, { workers, prefer: backend }) } : {};

  if (sub === 'run' && (flags['dropout'] !== undefined || flags['dropout-seed'] !== undefined)) throw new CliError('--dropout is simulation tooling: participant host only');
  const dropout = num(flags, 'dropout', { fallback: 0, test: (v) => v >= 0 && v <= 1, expect: 'a probability in [0, 1]' });
  const dropoutSeed = int(flags, 'dropout-seed', { min: 0, max: 2 ** 31, fallback: split.seed });
  const protocolsFor = (site: number): { protocols: ReadonlyMap<string, SiteProtocol> } | Record<string, never> => (dropout > 0
    ? { protocols: new Map([...BUILT_IN_PROTOCOLS].map(([name, p]) => [name, withSimulatedDropout(p, { probability: dropout, seed: dropoutSeed, site })])) }
    : {});

  if (sub === 'run') {
    if (flags['attack'] !== undefined || flags['attack-sites'] !== undefined) throw new CliError('--attack is for simulated sites only: participant host, as conclave simulate runs it');
    const token = typeof flags['token-file'] === 'string' ? readToken(flags['token-file']) : str(flags, 'token');
    const siteIndex = int(flags, 'site-index', { min: 0, max: sites - 1 });
    const privacyFloor = privacyFloorFromFlags(flags);
    const data = simulatedSiteShards(split, [siteIndex]).get(siteIndex)!;
    const evalData = simulatedSiteEvalShards(split, [siteIndex]).get(siteIndex)!;
    const identity = typeof flags['identity-key'] === 'string' ? { identity: loadIdentity(flags['identity-key']) } : {};
    const result = await runSite(new Participant({ coordinator, token, data, evalData, backend, ...trainerFor(data), ...identity, ...(tls ? { tls } : {}), ...(privacyFloor ? { privacyFloor } : {}) }), siteIndex, data);
    const refused = describeRefusals(result.refusals);
    output(flags, {
      json: result,
      text: result.outcome === 'site-budget-exhausted'
        ? `site ${siteIndex}: stopped, its privacy budget is spent: ${(result.last as { message?: string } | null)?.message ?? ''}${refused}`
        : `site ${siteIndex}: federation finished${refused}`,
    });
    return;
  }

  if (flags['privacy-state'] !== undefined) throw new CliError('--privacy-state is one site\'s file; participant host takes the other floor flags only');
  if (flags['identity-key'] !== undefined) throw new CliError('--identity-key is one site\'s key; participant host gives each of its sites a key of its own for the process\'s lifetime');
  const tokenDir = str(flags, 'token-dir');
  const indices = siteIndices(str(flags, 'site-indices'), sites);
  const privacyFloor = privacyFloorFromFlags(flags);
  const tokens = indices.map((i) => readToken(join(tokenDir, `site-${i}.token`)));
  const labelColumn = typeof flags['label-column'] === 'string' ? { labelColumn: flags['label-column'] } : {};
  // Every site's files are read and checked before any site connects, as "participant run --data" does for one.
  const own = ownData ? new Map(await Promise.all(indices.map(async (i) => [i, await hostedSiteData(str(flags, 'data'), i, labelColumn)] as const))) : null;
  const shards = own ? new Map<number, Dataset>() : simulatedSiteShards(split, indices);
  const evalShards = own ? new Map<number, Dataset>() : simulatedSiteEvalShards(split, indices);
  const attack = flags['attack'] === undefined ? null : oneOf(flags, 'attack', ATTACKS);
  const attackers = attack ? siteIndices(str(flags, 'attack-sites'), sites) : [];
  if (!attack && flags['attack-sites'] !== undefined) throw new CliError('--attack-sites needs --attack');
  if (attackers.some((i) => !indices.includes(i))) throw new CliError('--attack-sites must be among --site-indices');
  // tfjs is process-global, but every Participant builds its own LayersModel and trains it with its
  // own optimizer over explicit variable lists: the sites' training interleaves on this one thread
  // at each await, and no site reads or writes another's variables.
  const results = await Promise.all(indices.map(async (index, k) => {
    const source = own?.get(index);
    const data = shards.get(index);
    // A site on its own files has no simulated shard: its trainer fits them to the model once it is known.
    const siteData = source ? {} : { data: data!, evalData: evalShards.get(index)! };
    // An attacker wraps the trainer the site would have had (tfjs loaded only as the Participant would load it).
    const fitted = source ? ownDataTrainer(source, backend, workers) : null;
    const honest = async () => fitted ?? trainerFor(data!).trainer ?? new (await import('../training/tfjs-trainer.ts')).TfjsTrainer(data!, backend);
    const trainer = attack && attackers.includes(index) ? { trainer: attackingTrainer(await honest(), attack, (source ?? data!).count) }
      : fitted ? { trainer: fitted } : trainerFor(data!);
    const participant = new Participant({ coordinator, token: tokens[k]!, ...siteData, backend, ...trainer, ...protocolsFor(index), ...(tls ? { tls } : {}), ...(privacyFloor ? { privacyFloor } : {}) });
    return runSite(participant, index, source ?? data!);
  }));
  const exhausted = results.filter((r) => r.outcome === 'site-budget-exhausted').length;
  output(flags, {
    json: { sites: results },
    text: `${results.length} sites: federation finished${exhausted ? `; ${exhausted} stopped with their privacy budget spent` : ''}`,
  });
}

/** `participant run --data PATH`: the files are read and checked before the site connects, and fitted to the model before it trains. */
async function runOnOwnData(flags: Flags): Promise<void> {
  refuseSimulatedFlags(flags, ['dataset', 'partition', 'alpha', 'sites', 'site-index', 'seed']);
  const coordinator = str(flags, 'coordinator');
  const token = typeof flags['token-file'] === 'string' ? readToken(flags['token-file']) : str(flags, 'token');
  const backend = oneOf(flags, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, 'auto');
  const tls = clientTlsFromFlags(flags);
  const workers = int(flags, 'workers', { min: 1, max: 256, fallback: 1 });
  const privacyFloor = privacyFloorFromFlags(flags);
  const labelColumn = typeof flags['label-column'] === 'string' ? flags['label-column'] : undefined;
  const source = await openSiteData(str(flags, 'data'), labelColumn === undefined ? {} : { labelColumn });
  const trainer = ownDataTrainer(source, backend, workers);
  const participant = new Participant({ coordinator, token, trainer, backend, ...(tls ? { tls } : {}), ...(privacyFloor ? { privacyFloor } : {}) });
  const result = await runSite(participant, 0, source);
  output(flags, {
    json: { ...result, data: source.source },
    text: result.outcome === 'site-budget-exhausted'
      ? `site (${source.source}): stopped, its privacy budget is spent${describeRefusals(result.refusals)}`
      : `site (${source.source}, ${source.count} examples): federation finished${describeRefusals(result.refusals)}`,
  });
}

function refuseSimulatedFlags(flags: Flags, names: string[]): void {
  const simulated = names.find((name) => flags[name] !== undefined);
  if (simulated) throw new CliError(`--${simulated} is for the simulated MNIST shards; --data trains on the site's own files`);
}

/** A site's own data, fitted to the model once it is known, on N worker processes or in this one. */
function ownDataTrainer(source: SiteData, backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu', workers: number): SiteDataTrainer {
  return new SiteDataTrainer(source, backend, (d) => (workers > 1 ? new WorkerPoolTrainer(d, { workers, prefer: backend }) : new TfjsTrainer(d, backend)));
}

/**
 * `participant host --data DIR`: site i's files are DIR/site-<i>.csv or the image folder DIR/site-<i>/
 * (named like its token, DIR/site-<i>.token); both, or neither, is refused with the paths it looked for.
 */
async function hostedSiteData(dir: string, index: number, options: { labelColumn?: string }): Promise<SiteData> {
  const candidates = [join(dir, `site-${index}.csv`), join(dir, `site-${index}`)].filter((path) => statSync(path, { throwIfNoEntry: false }) !== undefined);
  if (candidates.length !== 1) {
    throw dataError(`--data ${dir}: site ${index} needs exactly one of site-${index}.csv (CSV) or site-${index}/ (image folder) there, found ${candidates.length === 0 ? 'neither' : 'both'}`);
  }
  return openSiteData(candidates[0]!, options);
}

/** Drains one site's events to stderr (JSON lines; stdout is kept for the summary) and sums them up. */
async function runSite(participant: Participant, site: number, data: Pick<Dataset, 'count'>): Promise<SiteOutcome> {
  let last: ParticipantEvent | null = null;
  const refusals: Refusal[] = [];
  let privacy: Privacy | null = null;
  let workers: WorkerInfo[] = [];
  let lastEpoch: { examplesPerS?: number; workers?: WorkerThroughput[] } = {};
  for await (const event of participant.run()) {
    last = event;
    if (event.type === 'backend' && event.workers) workers = event.workers;
    if (event.type === 'training' && event.progress.kind === 'epoch' && event.progress.workers) lastEpoch = event.progress;
    if (event.type === 'round-refused') refusals.push(event);
    if (event.type === 'privacy-charged' || event.type === 'site-budget-exhausted') privacy = event.privacy;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), component: 'site', site, ...event }) + '\n');
  }
  const speed = new Map((lastEpoch.workers ?? []).map(({ index, ...rest }) => [index, rest]));
  return {
    site, examples: data.count, workers: workers.map((w) => ({ ...w, ...speed.get(w.index) })), examplesPerS: lastEpoch.examplesPerS ?? null,
    outcome: last?.type === 'site-budget-exhausted' ? 'site-budget-exhausted' : 'finished', refusals, privacy, last };
}

function describeRefusals(refusals: Refusal[]): string {
  return refusals.length ? `; refused ${refusals.length} round(s): ${refusals.map((r) => `${r.round} (${r.reason})`).join(', ')}` : '';
}

/** "0,4,8": distinct site indices below --sites. */
function siteIndices(raw: string, sites: number): number[] {
  const indices = raw.split(',').map((part) => part.trim());
  const parsed = indices.map((part) => (/^\d+$/.test(part) ? Number(part) : NaN));
  const bad = indices.find((_, k) => !(parsed[k]! < sites));
  if (bad !== undefined) throw new CliError(`--site-indices must be comma-separated integers in [0, ${sites - 1}], got "${bad}"`);
  if (new Set(parsed).size !== parsed.length) throw new CliError('--site-indices lists a site twice');
  return parsed;
}

/** --flag for each field of the SDK's privacy floor, so the schema's messages name what the operator typed. */
const FLOOR_FLAGS: Record<keyof PrivacyFloorOptions, string> = {
  minNoiseMultiplier: 'min-noise-multiplier', maxClipNorm: 'max-clip', budgetEpsilon: 'site-budget', delta: 'site-delta',
  requireDp: 'require-dp', modes: 'allow-modes', stateFile: 'privacy-state',
};

/**
 * The site's privacy floor from the command line, or undefined when no floor flag is given. A flag
 * that is not a number is a usage error (2); values the SDK's schema refuses are invalid input (3).
 */
function privacyFloorFromFlags(flags: Flags): PrivacyFloorOptions | undefined {
  const raw: Record<string, unknown> = {};
  for (const [field, flag] of Object.entries(FLOOR_FLAGS)) {
    const value = flags[flag];
    if (value === undefined) continue;
    if (field === 'requireDp') raw[field] = value === true;
    else if (field === 'modes') raw[field] = String(value).split(',').map((m) => m.trim()).filter((m) => m !== '');
    else if (field === 'stateFile') raw[field] = value;
    else {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw new CliError(`--${flag} must be a number, got "${String(value)}"`);
      raw[field] = n;
    }
  }
  if (Object.keys(raw).length === 0) return undefined;
  // Checked here, before the site loads its data; the Participant checks the same schema again.
  parsePrivacyFloor(raw, (field) => `--${FLOOR_FLAGS[field as keyof PrivacyFloorOptions] ?? field}${field === 'modes' ? ` (${DP_MODES.join(', ')})` : ''}`);
  return raw as PrivacyFloorOptions;
}

/** The site's identity key from its file, or a new one written there (0600, never overwritten). */
export function loadIdentity(path: string): SiteIdentity {
  if (!existsSync(path)) {
    const identity = generateSiteIdentity();
    try {
      writeFileSync(path, identityToPem(identity), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new CliError(`cannot create identity key file ${path}: ${(err as Error).message}`, EXIT.INVALID_INPUT);
    }
    return identity;
  }
  try {
    return identityFromPem(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read identity key ${path} (an Ed25519 PKCS#8 PEM): ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read token file ${path}: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}
