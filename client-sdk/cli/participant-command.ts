/**
 * The site's entry points: `participant run` (one site, one process: what an organisation runs) and
 * `participant host` (many simulated sites in one process, each with its own token, gRPC channel
 * and model, for `conclave simulate --site-processes`). Operators' commands (enroll, revoke) live
 * in coordinator/cli; the `conclave` dispatcher routes between the two.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateSiteIdentity, identityFromPem, identityToPem, type SiteIdentity } from '../../crypto/site-identity.ts';
import { join } from 'node:path';
import { CLIENT_TLS_OPTIONS, CliError, EXIT, clientTlsFromFlags, int, num, oneOf, output, parseFlags, str, type Flags } from '../../protocols/cli.ts';
import { BUILT_IN_PROTOCOLS, Participant, type ParticipantEvent } from '../participant.ts';
import { withSimulatedDropout } from './simulated-dropout.ts';
import type { SiteProtocol } from '../protection/protocol.ts';
import { DP_MODES, parsePrivacyFloor, type PrivacyFloorOptions } from '../privacy-policy.ts';
import { simulatedSiteShards, type SimulatedSplit } from '../data/simulated.ts';
import type { Dataset } from '../data/dataset.ts';
import type { LocalTrainer } from '../training/local-trainer.ts';
import { WorkerPoolTrainer } from '../training/worker-pool.ts';

export const SITE_USAGE = `usage:
  conclave participant run --coordinator HOST:PORT (--token TOKEN | --token-file FILE)
                           --dataset mnist --partition iid|dirichlet [--alpha 0.5] --sites N --site-index I [--seed 1]
                           [--backend auto|tensorflow|wasm|cpu] [--tls-ca CA.pem [--tls-cert CERT.pem --tls-key KEY.pem]]
                           [--workers N]: train on N worker processes (one core each), one update per round
                           [--min-noise-multiplier S] [--max-clip C] [--site-budget E --site-delta D] [--require-dp]
                           [--allow-modes central,distributed,local] [--privacy-state FILE] [--identity-key FILE]
        --identity-key: the site's Ed25519 identity key (PKCS#8 PEM, created 0600 if missing); secure
        aggregation pins the first key a site signs with, so a site that restarts must keep it
        the site's own privacy floor: rounds below it are refused before training; under local and
        distributed DP the site keeps its own ε budget (persisted in --privacy-state) and stops when spent
  conclave participant host --coordinator HOST:PORT --token-dir DIR --site-indices I,J,…
                           --dataset mnist --partition iid|dirichlet [--alpha 0.5] --sites N [--seed 1] [--backend …] [TLS and floor flags]
        several simulated sites in this one process (tokens in DIR/site-<i>.token), each with its own
        gRPC channel and model; the data is loaded once; events go to stderr as JSON lines with "site"
        (--privacy-state is per site and so is not taken here)
        [--dropout P [--dropout-seed S]]: TEST TOOLING for simulations: each site drops out of each round with
        probability P, at a stage drawn uniformly, and stays silent until that stage's deadline
common: [--data-dir DIR] [--json]`;

const OPTIONS = {
  coordinator: { type: 'string' }, token: { type: 'string' }, ...CLIENT_TLS_OPTIONS,
  'token-file': { type: 'string' }, 'token-dir': { type: 'string' }, dataset: { type: 'string' }, partition: { type: 'string' }, alpha: { type: 'string' },
  sites: { type: 'string' }, 'site-index': { type: 'string' }, 'site-indices': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
  workers: { type: 'string' },
  'min-noise-multiplier': { type: 'string' }, 'max-clip': { type: 'string' }, 'site-budget': { type: 'string' }, 'site-delta': { type: 'string' },
  'require-dp': { type: 'boolean' }, 'allow-modes': { type: 'string' }, 'privacy-state': { type: 'string' },
  dropout: { type: 'string' }, 'dropout-seed': { type: 'string' }, 'identity-key': { type: 'string' },
} as const;

type Refusal = Extract<ParticipantEvent, { type: 'round-refused' }>;
type Privacy = Extract<ParticipantEvent, { type: 'privacy-charged' }>['privacy'];

interface SiteOutcome {
  site: number;
  examples: number;
  outcome: 'finished' | 'site-budget-exhausted';
  refusals: Refusal[];
  privacy: Privacy | null;
  last: ParticipantEvent | null;
}

export async function siteCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, OPTIONS, SITE_USAGE);
  if (flags['help']) return void process.stdout.write(SITE_USAGE + '\n');
  if (sub !== 'run' && sub !== 'host') throw new CliError(SITE_USAGE);
  const coordinator = str(flags, 'coordinator');
  oneOf(flags, 'dataset', ['mnist'] as const, 'mnist');
  const sites = int(flags, 'sites', { min: 1, max: 100_000 });
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
    const token = typeof flags['token-file'] === 'string' ? readToken(flags['token-file']) : str(flags, 'token');
    const siteIndex = int(flags, 'site-index', { min: 0, max: sites - 1 });
    const privacyFloor = privacyFloorFromFlags(flags);
    const data = simulatedSiteShards(split, [siteIndex]).get(siteIndex)!;
    const identity = typeof flags['identity-key'] === 'string' ? { identity: loadIdentity(flags['identity-key']) } : {};
    const result = await runSite(new Participant({ coordinator, token, data, backend, ...trainerFor(data), ...identity, ...(tls ? { tls } : {}), ...(privacyFloor ? { privacyFloor } : {}) }), siteIndex, data);
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
  const shards = simulatedSiteShards(split, indices);
  // tfjs is process-global, but every Participant builds its own LayersModel and trains it with its
  // own optimizer over explicit variable lists: the sites' training interleaves on this one thread
  // at each await, and no site reads or writes another's variables.
  const results = await Promise.all(indices.map((index, k) => {
    const data = shards.get(index)!;
    const participant = new Participant({ coordinator, token: tokens[k]!, data, backend, ...trainerFor(data), ...protocolsFor(index), ...(tls ? { tls } : {}), ...(privacyFloor ? { privacyFloor } : {}) });
    return runSite(participant, index, data);
  }));
  const exhausted = results.filter((r) => r.outcome === 'site-budget-exhausted').length;
  output(flags, {
    json: { sites: results },
    text: `${results.length} sites: federation finished${exhausted ? `; ${exhausted} stopped with their privacy budget spent` : ''}`,
  });
}

/** Drains one site's events to stderr (JSON lines; stdout is kept for the summary) and sums them up. */
async function runSite(participant: Participant, site: number, data: Dataset): Promise<SiteOutcome> {
  let last: ParticipantEvent | null = null;
  const refusals: Refusal[] = [];
  let privacy: Privacy | null = null;
  for await (const event of participant.run()) {
    last = event;
    if (event.type === 'round-refused') refusals.push(event);
    if (event.type === 'privacy-charged' || event.type === 'site-budget-exhausted') privacy = event.privacy;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), component: 'site', site, ...event }) + '\n');
  }
  return { site, examples: data.count, outcome: last?.type === 'site-budget-exhausted' ? 'site-budget-exhausted' : 'finished', refusals, privacy, last };
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
