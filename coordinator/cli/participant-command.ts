import { readFileSync } from 'node:fs';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import { simulatedSiteData } from '../../client-sdk/data/simulated.ts';
import { CliError, EXIT, int, num, oneOf, output, parseFlags, str } from './args.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import { clientTlsFromFlags } from './tls-flags.ts';

const USAGE = `usage:
  conclave participant enroll --federation ID --name SITE [--ttl-s SECONDS] [--budget EPSILON] [--sample-rate Q]
        prints the site token; with DP, --budget and --sample-rate give this site its own ε budget
        (at the federation's δ) and Poisson sampling rate instead of the federation's
  conclave participant revoke --federation ID --site SITE_ID
  conclave participant run --coordinator HOST:PORT (--token TOKEN | --token-file FILE)
                           --dataset mnist --partition iid|dirichlet [--alpha 0.5] --sites N --site-index I [--seed 1]
                           [--backend auto|tensorflow|wasm|cpu] [--tls-ca CA.pem [--tls-cert CERT.pem --tls-key KEY.pem]]
common: [--data-dir DIR] [--json]`;

const OPTIONS = {
  ...ADMIN_OPTIONS,
  federation: { type: 'string' }, name: { type: 'string' }, 'ttl-s': { type: 'string' }, site: { type: 'string' },
  'token-file': { type: 'string' }, dataset: { type: 'string' }, partition: { type: 'string' }, alpha: { type: 'string' },
  sites: { type: 'string' }, 'site-index': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
  budget: { type: 'string' }, 'sample-rate': { type: 'string' },
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
        output(flags, { json: enrolled, text: enrolled.token });
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
  const data = simulatedSiteData(split, siteIndex);
  const tls = clientTlsFromFlags(flags);
  const participant = new Participant({ coordinator, token, data, backend, ...(tls ? { tls } : {}) });
  let last: ParticipantEvent | null = null;
  for await (const event of participant.run()) {
    last = event;
    // Progress goes to stderr as JSON lines; stdout is kept for the final summary.
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), component: 'site', site: siteIndex, ...event }) + '\n');
  }
  output(flags, { json: { site: siteIndex, examples: data.count, last }, text: `site ${siteIndex}: federation finished` });
}

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read token file ${path}: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}
