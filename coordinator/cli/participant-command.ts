import { readFileSync } from 'node:fs';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { DP_MODES, parsePrivacyFloor, type PrivacyFloorOptions } from '../../client-sdk/privacy-policy.ts';
import { simulatedSiteData } from '../../client-sdk/data/simulated.ts';
import { ledgerKeyFromJwks } from '../../crypto/ledger-signing.ts';
import { CliError, EXIT, int, num, oneOf, output, parseFlags, str } from './args.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import { clientTlsFromFlags } from './tls-flags.ts';

const USAGE = `usage:
  conclave participant enroll --federation ID --name SITE [--ttl-s SECONDS] [--budget EPSILON] [--sample-rate Q]
        prints the site token, and on stderr the coordinator's key fingerprint for the site to pin;
        with DP, --budget and --sample-rate give this site its own ε budget
        (at the federation's δ) and Poisson sampling rate instead of the federation's
  conclave participant revoke --federation ID --site SITE_ID
  conclave participant run --coordinator HOST:PORT (--token TOKEN | --token-file FILE)
                           --dataset mnist --partition iid|dirichlet [--alpha 0.5] --sites N --site-index I [--seed 1]
                           [--backend auto|tensorflow|wasm|cpu] [--tls-ca CA.pem [--tls-cert CERT.pem --tls-key KEY.pem]]
                           [--min-noise-multiplier S] [--max-clip C] [--site-budget E --site-delta D] [--require-dp]
                           [--allow-modes central,distributed,local] [--privacy-state FILE]
        the site's own privacy floor: rounds below it are refused before training; under local and
        distributed DP the site keeps its own ε budget (persisted in --privacy-state) and stops when spent
common: [--data-dir DIR] [--json]`;

const OPTIONS = {
  ...ADMIN_OPTIONS,
  federation: { type: 'string' }, name: { type: 'string' }, 'ttl-s': { type: 'string' }, site: { type: 'string' },
  'token-file': { type: 'string' }, dataset: { type: 'string' }, partition: { type: 'string' }, alpha: { type: 'string' },
  sites: { type: 'string' }, 'site-index': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
  budget: { type: 'string' }, 'sample-rate': { type: 'string' },
  'min-noise-multiplier': { type: 'string' }, 'max-clip': { type: 'string' }, 'site-budget': { type: 'string' }, 'site-delta': { type: 'string' },
  'require-dp': { type: 'boolean' }, 'allow-modes': { type: 'string' }, 'privacy-state': { type: 'string' },
} as const;

export async function participantCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, OPTIONS, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  if (sub === 'enroll' || sub === 'revoke') {
    const federationId = str(flags, 'federation');
    const request = sub === 'enroll'
      ? {
        federationId, siteName: str(flags, 'name'), tokenTtlS: int(flags, 'ttl-s', { min: 0, max: 366 * 24 * 3600, fallback: 0 }),
        // 0 on the wire means "the federation's".
        budgetEpsilon: flags['budget'] === undefined ? 0 : num(flags, 'budget', { test: (v) => v > 0, expect: 'a positive ε' }),
        sampleRate: flags['sample-rate'] === undefined ? 0 : num(flags, 'sample-rate', { test: (v) => v > 0 && v <= 1, expect: 'a number in (0, 1]' }),
      }
      : { federationId, siteId: str(flags, 'site') };
    const admin = adminContext(flags);
    try {
      if (sub === 'enroll') {
        const enrolled = await admin.call<{ siteId: string; token: string }>('EnrollSite', request);
        // The key that signs this token and the federation's privacy ledger, for the site to pin.
        const { jwksJson } = await admin.call<{ jwksJson: string }>('GetLedger', { federationId });
        const key = ledgerKeyFromJwks(JSON.parse(jwksJson));
        output(flags, { json: { ...enrolled, keyId: key.keyId, keyFingerprint: key.fingerprint }, text: enrolled.token });
        // stdout stays the bare token (scripts capture it); the fingerprint goes to the operator.
        if (!flags['json']) process.stderr.write(`coordinator signing key ${key.keyId ?? '(no kid)'}, fingerprint ${key.fingerprint}: pin it to check the ledger (conclave ledger verify --key-fingerprint ${key.fingerprint})\n`);
      } else {
        const result = await admin.call<{ revoked: boolean }>('RevokeSite', request);
        output(flags, { json: result, text: result.revoked ? 'revoked' : 'already revoked' });
      }
    } finally {
      admin.close();
    }
    return;
  }
  if (sub !== 'run') throw new CliError(USAGE);
  const coordinator = str(flags, 'coordinator');
  const token = typeof flags['token-file'] === 'string' ? readToken(flags['token-file']) : str(flags, 'token');
  oneOf(flags, 'dataset', ['mnist'] as const, 'mnist');
  const sites = int(flags, 'sites', { min: 1, max: 10_000 });
  const split = {
    dataset: 'mnist' as const,
    partition: oneOf(flags, 'partition', ['iid', 'dirichlet'] as const, 'iid'),
    sites,
    alpha: num(flags, 'alpha', { fallback: 0.5, test: (v) => v > 0, expect: 'a positive number' }),
    seed: int(flags, 'seed', { min: 0, max: 2 ** 31, fallback: 1 }),
  };
  const siteIndex = int(flags, 'site-index', { min: 0, max: sites - 1 });
  const backend = oneOf(flags, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, 'auto');
  const privacyFloor = privacyFloorFromFlags(flags);
  const data = simulatedSiteData(split, siteIndex);
  const tls = clientTlsFromFlags(flags);
  const participant = new Participant({ coordinator, token, data, backend, ...(tls ? { tls } : {}), ...(privacyFloor ? { privacyFloor } : {}) });
  let last: ParticipantEvent | null = null;
  const refusals: Array<Extract<ParticipantEvent, { type: 'round-refused' }>> = [];
  let privacy: Extract<ParticipantEvent, { type: 'privacy-charged' }>['privacy'] | null = null;
  for await (const event of participant.run()) {
    last = event;
    if (event.type === 'round-refused') refusals.push(event);
    if (event.type === 'privacy-charged' || event.type === 'site-budget-exhausted') privacy = event.privacy;
    // Progress goes to stderr as JSON lines; stdout is kept for the final summary.
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), component: 'site', site: siteIndex, ...event }) + '\n');
  }
  const exhausted = last?.type === 'site-budget-exhausted' ? last : null;
  const refused = refusals.length ? `; refused ${refusals.length} round(s): ${refusals.map((r) => `${r.round} (${r.reason})`).join(', ')}` : '';
  output(flags, {
    json: { site: siteIndex, examples: data.count, outcome: exhausted ? 'site-budget-exhausted' : 'finished', refusals, privacy, last },
    text: exhausted ? `site ${siteIndex}: stopped, its privacy budget is spent: ${exhausted.message}${refused}` : `site ${siteIndex}: federation finished${refused}`,
  });
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
function privacyFloorFromFlags(flags: Record<string, string | boolean | undefined>): PrivacyFloorOptions | undefined {
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

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read token file ${path}: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}
