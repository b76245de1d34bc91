import { ledgerKeyFromJwks } from '../../crypto/ledger-signing.ts';
import { CliError, int, num, output, parseFlags, str } from '../../protocols/cli.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';

const USAGE = `usage:
  conclave participant enroll --federation ID --name SITE [--ttl-s SECONDS] [--budget EPSILON] [--sample-rate Q] [--max-examples N]
        prints the site token, and on stderr the coordinator's key fingerprint for the site to pin;
        --max-examples is the site's declared dataset size: its FedAvg weight never exceeds it,
        whatever it later claims (otherwise the coordinator's --max-examples-per-update caps it);
        with DP, --budget and --sample-rate give this site its own ε budget
        (at the federation's δ) and Poisson sampling rate instead of the federation's
  conclave participant revoke --federation ID --site SITE_ID
  conclave participant run|host …    a site's own process (see "conclave participant run --help")
common: [--data-dir DIR] [--json]`;

const OPTIONS = {
  ...ADMIN_OPTIONS,
  federation: { type: 'string' }, name: { type: 'string' }, 'ttl-s': { type: 'string' }, site: { type: 'string' },
  budget: { type: 'string' }, 'sample-rate': { type: 'string' }, 'max-examples': { type: 'string' },
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
  throw new CliError(USAGE);
}
