import { ledgerKeyFromJwks } from '../../crypto/ledger-signing.ts';
import { CliError, int, num, output, parseFlags, str, type CommandHelp, type FlagOptions, type Flags } from '../../protocols/cli.ts';
import type { ListSitesResponseMsg } from '../../protocols/index.ts';
import { ADMIN_FLAGS, ADMIN_OPTIONS, adminContext } from './admin-context.ts';

const OPTIONS = {
  ...ADMIN_OPTIONS,
  federation: { type: 'string', value: 'ID', description: 'the federation' },
  name: { type: 'string', value: 'SITE', description: 'enroll: the site\'s name, unique in the federation' },
  'ttl-s': { type: 'string', value: 'SECONDS', description: 'enroll: the token\'s lifetime (default 30 days)' },
  site: { type: 'string', value: 'SITE_ID', description: 'revoke: the site\'s id (from enroll or participant list)' },
  budget: { type: 'string', value: 'EPSILON', description: 'enroll, with DP: this site\'s own ε budget at the federation\'s δ (default the federation\'s)' },
  'sample-rate': { type: 'string', value: 'Q', description: 'enroll, with DP: this site\'s own Poisson sampling rate (default the federation\'s)' },
  'max-examples': {
    type: 'string', value: 'N',
    description: 'enroll: the site\'s declared dataset size; its FedAvg weight never exceeds it, whatever it later claims (otherwise the coordinator\'s --max-examples-per-update caps it)',
  },
} as const satisfies FlagOptions;

export const PARTICIPANT_HELP: CommandHelp = {
  command: 'participant',
  summary: 'enroll, revoke and list a federation\'s sites; run a site',
  subcommands: {
    enroll: {
      summary: 'enroll a site: prints its token (stdout) and the coordinator\'s key fingerprint for it to pin (stderr)',
      flags: [...ADMIN_FLAGS, 'federation', 'name', 'ttl-s', 'budget', 'sample-rate', 'max-examples'],
      examples: ['conclave participant enroll --federation 3f2c… --name hospital-a > hospital-a.token', 'conclave participant enroll --federation 3f2c… --name lab-b --budget 4 --json'],
    },
    revoke: {
      summary: 'revoke a site: its token stops working and it leaves the round in progress',
      flags: [...ADMIN_FLAGS, 'federation', 'site'],
      examples: ['conclave participant revoke --federation 3f2c… --site 9b1e…'],
    },
    list: {
      summary: 'every site of a federation: state, last seen, rounds, ε spent and budget left (from the ledger)',
      flags: [...ADMIN_FLAGS, 'federation'],
      examples: ['conclave participant list --federation 3f2c…', 'conclave participant list --federation 3f2c… --json'],
      details: '"rounds" counts the committed rounds a site sent an update to; ε is charged for every round a site was eligible for (sampled or not), so its ε grows with "eligible", not with "rounds".',
    },
    run: { summary: 'a site\'s own process: train on local data in the federation (see "conclave participant run --help")', examples: ['conclave participant run --help'] },
    host: { summary: 'many simulated sites in one process (see "conclave participant host --help")', examples: ['conclave participant host --help'] },
  },
};

export async function participantCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, OPTIONS, PARTICIPANT_HELP, sub);
  if (sub === 'list') return listSites(flags, str(flags, 'federation'));
  if (sub === 'enroll' || sub === 'revoke') {
    const federationId = str(flags, 'federation');
    const request = sub === 'enroll'
      ? {
        federationId, siteName: str(flags, 'name'), tokenTtlS: int(flags, 'ttl-s', { min: 0, max: 366 * 24 * 3600, fallback: 0 }),
        // 0 on the wire means "the federation's".
        budgetEpsilon: flags['budget'] === undefined ? 0 : num(flags, 'budget', { test: (v) => v > 0, expect: 'a positive ε' }),
        sampleRate: flags['sample-rate'] === undefined ? 0 : num(flags, 'sample-rate', { test: (v) => v > 0 && v <= 1, expect: 'a number in (0, 1]' }),
        maxExamples: int(flags, 'max-examples', { min: 1, max: 1_000_000_000, fallback: 0 }),
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
  throw new CliError(`participant ${sub} runs a site; the dispatcher sends it to the site's CLI`);
}

async function listSites(flags: Flags, federationId: string): Promise<void> {
  const admin = adminContext(flags);
  try {
    const report = await admin.call<ListSitesResponseMsg>('ListSites', { federationId });
    const sites = report.sites.map((s) => ({
      siteId: s.siteId, name: s.name, state: s.state,
      enrolledAt: new Date(s.enrolledUnixMs).toISOString(), revokedAt: s.revokedUnixMs ? new Date(s.revokedUnixMs).toISOString() : null,
      lastSeen: s.lastSeenUnixMs ? new Date(s.lastSeenUnixMs).toISOString() : null,
      roundsParticipated: s.roundsParticipated, roundsEligible: s.roundsEligible, sampleRate: s.sampleRate,
      epsilon: s.epsilon.epsilon, accountant: s.epsilon.accountant,
      budgetEpsilon: s.epsilon.budgetEpsilon > 0 ? s.epsilon.budgetEpsilon : null, budgetLeft: s.budgetLeft >= 0 ? s.budgetLeft : null,
    }));
    const rows = [['SITE', 'ID', 'STATE', 'LAST SEEN', 'ROUNDS', 'ELIGIBLE', 'ε SPENT', 'BUDGET LEFT'],
      ...sites.map((s) => [s.name, s.siteId.slice(0, 8), s.state, s.lastSeen ?? 'never', String(s.roundsParticipated), String(s.roundsEligible),
        s.epsilon.toFixed(4), s.budgetLeft === null ? '-' : `${s.budgetLeft.toFixed(4)} of ${s.budgetEpsilon}`])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    output(flags, {
      json: { federationId, delta: report.delta, sites },
      text: sites.length === 0 ? `federation ${federationId} has no sites yet; enroll one with "conclave participant enroll"`
        : [...rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()), `ε at δ = ${report.delta}`].join('\n'),
    });
  } finally {
    admin.close();
  }
}
