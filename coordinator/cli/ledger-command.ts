import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { GetLedgerResponseMsg } from '../../protocols/index.ts';
import { verifyChain } from '../../crypto/ledger-signing.ts';
import { CliError, EXIT, output, parseFlags, str } from './args.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';

const USAGE = `usage:
  conclave ledger show --federation ID          entries, and ε per federation and per participant (from the ledger alone)
  conclave ledger verify --federation ID [--file LEDGER.json]
        checks every entry's Ed25519 signature against the coordinator's JWKS, the hash chain and the sequence.
        With --file, verifies a saved "ledger show --json" offline; otherwise asks the coordinator.
common: [--coordinator HOST:PORT] [--token TOKEN] [--data-dir DIR] [--json]
exit codes: 0 intact; 9 the chain or a signature does not verify; others as for every command`;

const EXIT_TAMPERED = 9;

export async function ledgerCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, { ...ADMIN_OPTIONS, federation: { type: 'string' }, file: { type: 'string' } }, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  if (sub !== 'show' && sub !== 'verify') throw new CliError(USAGE);
  const ledger = sub === 'verify' && typeof flags['file'] === 'string' ? readLedgerFile(resolve(flags['file'])) : await fetchLedger(flags, str(flags, 'federation'));
  if (sub === 'show') {
    const f = ledger.federation;
    const lines = [
      `federation ${ledger.federationId}: ε = ${f ? f.epsilon.toFixed(4) : '0'} (${f?.accountant ?? 'rdp'}; rdp ${f?.rdpEpsilon.toFixed(4) ?? 0}, pld ${f && f.pldEpsilon >= 0 ? f.pldEpsilon.toFixed(4) : 'n/a'}) at δ = ${ledger.delta}${f?.budgetEpsilon ? `, budget ${f.budgetEpsilon}` : ''}`,
      ...ledger.participants.map((p) => `  ${p.siteName.padEnd(16)} ε = ${p.epsilon.epsilon.toFixed(4)} (${p.epsilon.accountant}) over ${p.roundsEligible} eligible rounds at q = ${p.sampleRate}${p.epsilon.budgetEpsilon ? `, budget ${p.epsilon.budgetEpsilon}` : ''}`),
      `${ledger.entries.length} entries`,
    ];
    output(flags, {
      json: { ...ledger, entries: ledger.entries.map((e) => ({ seq: e.seq, hash: e.hash, jws: e.jws, payload: JSON.parse(e.payloadJson) as unknown, payloadJson: e.payloadJson })) },
      text: lines.join('\n'),
    });
    return;
  }
  const jwks = JSON.parse(ledger.jwksJson) as { keys: JWK[] };
  const jwk = jwks.keys[0];
  if (!jwk) throw new CliError('the ledger carries no public key (jwks)', EXIT.INVALID_INPUT);
  const publicKey = await importJWK(jwk, 'EdDSA');
  const problems = await verifyChain(publicKey as CryptoKey, ledger.entries.map((e) => ({ seq: e.seq, payload: e.payloadJson, hash: e.hash, jws: e.jws })),
    (payload) => (JSON.parse(payload) as { prevHash: string }).prevHash);
  output(flags, {
    json: { federationId: ledger.federationId, entries: ledger.entries.length, intact: problems.length === 0, problems, keyId: jwk.kid },
    text: problems.length === 0
      ? `ledger intact: ${ledger.entries.length} entries, signatures verify under key ${jwk.kid}`
      : `LEDGER DOES NOT VERIFY:\n${problems.map((p) => `  entry ${p.seq}: ${p.problem}`).join('\n')}`,
  });
  if (problems.length > 0) process.exitCode = EXIT_TAMPERED;
}

async function fetchLedger(flags: Record<string, string | boolean | undefined>, federationId: string): Promise<GetLedgerResponseMsg> {
  const admin = adminContext(flags);
  try {
    return await admin.call<GetLedgerResponseMsg>('GetLedger', { federationId });
  } finally {
    admin.close();
  }
}

/** Accepts the output of `ledger show --json`. */
function readLedgerFile(path: string): GetLedgerResponseMsg {
  if (!existsSync(path)) throw new CliError(`no such file: ${path}`, EXIT.INVALID_INPUT);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`${path} is not JSON: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
  const ledger = parsed as Partial<GetLedgerResponseMsg>;
  if (!ledger || typeof ledger.jwksJson !== 'string' || !Array.isArray(ledger.entries)
    || !ledger.entries.every((e) => e && typeof e.payloadJson === 'string' && typeof e.hash === 'string' && typeof e.jws === 'string' && Number.isInteger(e.seq))) {
    throw new CliError(`${path} is not the output of "conclave ledger show --json"`, EXIT.INVALID_INPUT);
  }
  return ledger as GetLedgerResponseMsg;
}

