import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { GetLedgerResponseMsg } from '../../protocols/index.ts';
import { ledgerKeyFromJwks } from '../../crypto/ledger-signing.ts';
import { auditLedger, describeProblem, readAuditInput, type AuditInput } from '../privacy/ledger-audit.ts';
import { CliError, EXIT, output, parseFlags, str, type CommandHelp, type FlagOptions, type Flags } from '../../protocols/cli.ts';
import { ADMIN_FLAGS, ADMIN_OPTIONS, adminContext } from './admin-context.ts';

/** Where a ledger is read from and the key it is checked under: ledger verify, audit verify and audit report. */
export const LEDGER_SOURCE_OPTIONS = {
  ...ADMIN_OPTIONS,
  federation: { type: 'string', value: 'ID', description: 'the federation (with --file: default the file\'s)' },
  file: { type: 'string', value: 'LEDGER.json', description: 'a saved "conclave ledger show --json" instead of the data dir' },
  jwks: { type: 'string', value: 'JWKS.json', description: 'pin the signing key: a JWKS you saved' },
  'key-fingerprint': { type: 'string', value: 'FP', description: 'pin the signing key by its fingerprint (printed by "coordinator start" and "participant enroll")' },
} as const satisfies FlagOptions;

export const LEDGER_SOURCE_DETAILS = `Where the ledger comes from: DATA_DIR/conclave.db, opened read-only, no coordinator needed (the default);
--file, a saved "ledger show --json"; --coordinator, a running coordinator (GetLedger). The last two carry no rounds or
anchors; the result lists what could not be checked. Pin the key with --jwks or --key-fingerprint: without either, the
key is read from the ledger's own source, which whoever rewrites the ledger can replace too; the result says so.`;

export const LEDGER_HELP: CommandHelp = {
  command: 'ledger',
  summary: 'the privacy-budget ledger: ε per federation and participant; its chain and signatures',
  subcommands: {
    show: {
      summary: 'entries, and ε per federation and per participant (from the ledger alone)', flags: [...ADMIN_FLAGS, 'federation'],
      examples: ['conclave ledger show --federation 3f2c…', 'conclave ledger show --federation 3f2c… --json > ledger.json'],
    },
    verify: {
      summary: 'check every entry\'s signature under a pinned key, the hash chain from the genesis, and (data dir) the rounds and model anchors',
      examples: ['conclave ledger verify --federation 3f2c… --key-fingerprint 5c1a…', 'conclave ledger verify --file ledger.json --jwks jwks.json'],
      details: LEDGER_SOURCE_DETAILS,
      exitCodes: { 0: 'the ledger verifies', 9: 'it does not verify, or is not signed by the pinned key' },
    },
  },
};

export async function ledgerCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, LEDGER_SOURCE_OPTIONS, LEDGER_HELP, sub);
  if (sub === 'verify') return verify(flags);
  const ledger = await fetchLedger(flags, str(flags, 'federation'));
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
}

export interface Source {
  kind: 'data-dir' | 'file' | 'coordinator';
  input: AuditInput;
  /** The JWKS that came with the ledger: whoever can rewrite the ledger can rewrite this too. */
  jwksJson: string;
  jwksFrom: string;
}

/** The ledger verified under the key the flags pin: what `ledger verify` and `audit verify` print. */
export interface PinnedVerification {
  json: Record<string, unknown>;
  text: string[];
  intact: boolean;
}

async function verify(flags: Flags): Promise<void> {
  const source = await readSource(flags);
  const v = verifyPinned(flags, source);
  output(flags, { json: v.json, text: v.text.join('\n') });
  if (!v.intact) process.exitCode = EXIT.LEDGER_INVALID;
}

export function verifyPinned(flags: Flags, source: Source): PinnedVerification {
  const fingerprint = typeof flags['key-fingerprint'] === 'string' ? flags['key-fingerprint'].replace(/^sha256:/i, '') : null;
  const pinnedBy = typeof flags['jwks'] === 'string' ? 'jwks' : fingerprint !== null ? 'key-fingerprint' : null;
  let key: ReturnType<typeof ledgerKeyFromJwks>;
  if (typeof flags['jwks'] === 'string') {
    const path = resolve(flags['jwks']);
    if (!existsSync(path)) throw new CliError(`no such file: ${path}`, EXIT.INVALID_INPUT);
    key = parseKey(readFileSync(path, 'utf8'), path);
    if (fingerprint !== null && fingerprint !== key.fingerprint) {
      throw new CliError(`--key-fingerprint ${fingerprint} is not the fingerprint of the key in ${path} (${key.fingerprint})`, EXIT.INVALID_INPUT);
    }
  } else {
    key = parseKey(source.jwksJson, source.jwksFrom);
  }
  const base = { federationId: source.input.federationId, source: source.kind, keyPinned: pinnedBy !== null, pinnedBy, keyId: key.keyId, keyFingerprint: key.fingerprint };
  if (pinnedBy === 'key-fingerprint' && key.fingerprint !== fingerprint) {
    // The key that came with the ledger is not the pinned one: every signature is somebody else's.
    const message = `the ledger's key (${source.jwksFrom}: kid ${key.keyId ?? '(none)'}, fingerprint ${key.fingerprint}) is not the pinned key ${fingerprint}`;
    return {
      intact: false, text: ['LEDGER DOES NOT VERIFY:', `  ${message}`],
      json: { ...base, intact: false, entries: source.input.entries.length, problems: [{ seq: null, problem: 'untrusted-key', message }], notChecked: [] },
    };
  }
  if (pinnedBy === null) {
    process.stderr.write(`WARNING: the signing key was NOT PINNED: it was read from ${source.jwksFrom}, which whoever can rewrite the ledger can replace `
      + `with a key of their own. Pass --jwks FILE (a JWKS you saved) or --key-fingerprint FP (printed by "conclave coordinator start" and "participant enroll").\n`);
  }
  const result = auditLedger(source.input, { publicKey: key.publicKey, keyId: key.keyId });
  const intact = result.problems.length === 0;
  const keyLine = `key ${key.keyId ?? '(no kid)'} (fingerprint ${key.fingerprint}; ${pinnedBy ? `pinned by --${pinnedBy}` : 'NOT PINNED'})`;
  const text = intact
    ? [`ledger intact: ${result.entries} entries, head ${result.head}, signatures verify under ${keyLine}`, ...result.notChecked.map((n) => `  not checked: ${n}`)]
    : [`LEDGER DOES NOT VERIFY under ${keyLine}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`, ...result.problems.map((p) => `  ${describeProblem(p)}`),
      ...result.notChecked.map((n) => `  not checked: ${n}`)];
  return {
    intact, text,
    json: { ...base, intact, entries: result.entries, head: result.head, problems: result.problems.map((p) => ({ ...p, message: describeProblem(p) })), notChecked: result.notChecked },
  };
}

/**
 * A saved export, a running coordinator, or (the default) the data dir itself, opened read-only:
 * no coordinator, no lock, no migration, so an auditor can check a copy nobody is running.
 */
export async function readSource(flags: Flags): Promise<Source> {
  if (typeof flags['file'] === 'string') {
    const path = resolve(flags['file']);
    const ledger = readLedgerFile(path);
    return { kind: 'file', input: exportedInput(ledger, str(flags, 'federation', ledger.federationId)), jwksJson: ledger.jwksJson, jwksFrom: `the jwksJson in ${path}` };
  }
  const federationId = str(flags, 'federation');
  if (typeof flags['coordinator'] === 'string') {
    const ledger = await fetchLedger(flags, federationId);
    return { kind: 'coordinator', input: exportedInput(ledger, federationId), jwksJson: ledger.jwksJson, jwksFrom: `the coordinator at ${flags['coordinator']}` };
  }
  const dataDir = resolve(String(flags['data-dir']));
  const dbPath = join(dataDir, 'conclave.db');
  if (!existsSync(dbPath)) throw new CliError(`no ledger database at ${dbPath}; pass --data-dir DIR, --file LEDGER.json or --coordinator HOST:PORT`, EXIT.NOT_FOUND);
  const jwksPath = join(dataDir, 'keys', 'jwks.json');
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    if (!db.prepare('SELECT 1 FROM federations WHERE id = ?').get(federationId)) throw new CliError(`federation ${federationId} is not in ${dbPath}`, EXIT.NOT_FOUND);
    const jwksJson = existsSync(jwksPath) ? readFileSync(jwksPath, 'utf8') : '';
    return { kind: 'data-dir', input: readAuditInput(db, federationId), jwksJson, jwksFrom: jwksPath };
  } finally {
    db.close();
  }
}

function exportedInput(ledger: GetLedgerResponseMsg, federationId: string): AuditInput {
  // The entry rows' round ids are not exported; the signed payload's stand in for them.
  const entries = ledger.entries.map((e) => ({ seq: e.seq, roundId: roundIdOf(e.payloadJson), payload: e.payloadJson, hash: e.hash, jws: e.jws }));
  return { federationId, entries, rounds: null, versions: null };
}

function roundIdOf(payload: string): string {
  try {
    const roundId = (JSON.parse(payload) as { roundId?: unknown }).roundId;
    return typeof roundId === 'string' ? roundId : '';
  } catch {
    return '';
  }
}

function parseKey(jwksJson: string, from: string): ReturnType<typeof ledgerKeyFromJwks> {
  if (!jwksJson) throw new CliError(`no public key at ${from}; pass --jwks FILE`, EXIT.INVALID_INPUT);
  try {
    return ledgerKeyFromJwks(JSON.parse(jwksJson));
  } catch (err) {
    throw new CliError(`${from} does not hold the coordinator's one Ed25519 public key: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}

async function fetchLedger(flags: Flags, federationId: string): Promise<GetLedgerResponseMsg> {
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

