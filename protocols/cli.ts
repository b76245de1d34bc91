/**
 * The command-line contract both CLIs keep: the operator's (coordinator/cli) and the site's
 * (client-sdk/cli). Exit codes are part of the wire contract for scripts, as error codes are for
 * clients, so they are decided here, next to the gRPC status table, in one place.
 */
import { readFileSync } from 'node:fs';
import { ConclaveError, type ErrorCode } from './errors.ts';
import type { ClientTls } from './client.ts';
import { parseCommandLine } from './cli-help.ts';

/** Exit codes, one per failure family, so scripts can branch without parsing messages. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  INVALID_INPUT: 3,
  NOT_FOUND: 4,
  AUTH: 5,
  UNAVAILABLE: 6,
  CONFLICT: 7,
  BUDGET: 8,
  LEDGER_INVALID: 9,
  /** The coordinator's per-token rate or concurrency limit refused the call: retry later. */
  RATE_LIMITED: 10,
} as const;

/** What each exit code means, for every command's help (the top-level help lists them all). */
export const EXIT_MEANING: Readonly<Record<number, string>> = {
  [EXIT.OK]: 'success',
  [EXIT.FAILURE]: 'unexpected failure (set CONCLAVE_DEBUG=1 for the stack)',
  [EXIT.USAGE]: 'usage: unknown command, subcommand or flag, a missing or malformed flag',
  [EXIT.INVALID_INPUT]: 'invalid input: a value, file or model that the CLI or the coordinator refuses',
  [EXIT.NOT_FOUND]: 'not found: unknown federation, round, model version or site',
  [EXIT.AUTH]: 'authentication: a wrong, expired, revoked or missing token',
  [EXIT.UNAVAILABLE]: 'unavailable: the coordinator cannot be reached (or none is recorded in the data dir)',
  [EXIT.CONFLICT]: 'conflict: already exists, wrong federation state, no round in progress',
  [EXIT.BUDGET]: 'privacy budget exhausted',
  [EXIT.LEDGER_INVALID]: 'the privacy ledger does not verify',
  [EXIT.RATE_LIMITED]: 'rate limited: the coordinator\'s per-token call limit refused the call; retry later',
};

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.USAGE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

const EXIT_FOR_CODE: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: EXIT.AUTH, TOKEN_EXPIRED: EXIT.AUTH, TOKEN_REVOKED: EXIT.AUTH, FORBIDDEN: EXIT.AUTH, NOT_SELECTED: EXIT.AUTH, IDENTITY_MISMATCH: EXIT.AUTH,
  INVALID_ARGUMENT: EXIT.INVALID_INPUT, LAYOUT_MISMATCH: EXIT.INVALID_INPUT, NON_FINITE_VALUE: EXIT.INVALID_INPUT, MALFORMED_STREAM: EXIT.INVALID_INPUT, UPDATE_REFUSED: EXIT.INVALID_INPUT,
  DIGEST_MISMATCH: EXIT.INVALID_INPUT, NOT_FOUND: EXIT.NOT_FOUND, UNAVAILABLE: EXIT.UNAVAILABLE,
  ALREADY_EXISTS: EXIT.CONFLICT, DUPLICATE_SUBMISSION: EXIT.CONFLICT, ROUND_CLOSED: EXIT.CONFLICT, FEDERATION_STATE: EXIT.CONFLICT,
  BUDGET_EXCEEDED: EXIT.BUDGET, LEDGER_INVALID: EXIT.LEDGER_INVALID, RATE_LIMITED: EXIT.RATE_LIMITED,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConclaveError) return EXIT_FOR_CODE[err.code] ?? EXIT.FAILURE;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('DP_')) return EXIT.INVALID_INPUT;
  return EXIT.FAILURE;
}

/**
 * A flag as commands declare it: node:util parseArgs' option shape, plus what its help line says.
 * Commands spread these objects into one another (ADMIN_OPTIONS, STRATEGY_OPTIONS, …), so new flags
 * merge as new keys; the help is generated from them (cli-help.ts), never written by hand.
 */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  description?: string;
  /** The placeholder in help: `--federation <ID>`; default: the flag's name in capitals. */
  value?: string;
}
export type FlagOptions = Readonly<Record<string, FlagSpec>>;

export const COMMON_OPTIONS = {
  'data-dir': { type: 'string', default: './.conclave', value: 'DIR', description: 'the coordinator\'s data directory: its database, keys, admin token and address' },
  json: { type: 'boolean', default: false, description: 'print the result (or the error) as JSON on stdout' },
  help: { type: 'boolean', short: 'h', default: false, description: 'show this help' },
} as const satisfies FlagOptions;

export type Flags = Record<string, string | boolean | undefined>;

/** One subcommand's help: what it does, its positionals, which of the command's flags it takes, and examples. */
export interface SubcommandHelp {
  summary: string;
  /** Positional arguments, e.g. "ID"; a subcommand without them refuses stray arguments. */
  args?: string;
  /** The command's flags this subcommand takes (the common ones always); absent: all of them. */
  flags?: readonly string[];
  examples: readonly string[];
  /** Prose after the flags: what a flag list cannot say (defaults that depend on each other, caveats). */
  details?: string;
  /** Exit codes with a meaning of their own here (the rest are every command's: "conclave --help"). */
  exitCodes?: Readonly<Partial<Record<number, string>>>;
}

/** A command's help: with subcommands (conclave round list|show|…), or one leaf (conclave simulate). */
export interface CommandHelp extends Omit<SubcommandHelp, 'examples'> {
  /** The words after "conclave": "round", "participant". */
  command: string;
  examples?: readonly string[];
  subcommands?: Readonly<Record<string, SubcommandHelp>>;
}

/**
 * Parses a command's flags (commander, over the declared options), and handles --help itself: the
 * help is printed and HelpShown thrown, which the dispatcher turns into exit 0. `sub` is the
 * subcommand the caller split off argv (undefined for a command without subcommands).
 */
export function parseFlags(argv: string[], options: FlagOptions, help: CommandHelp, sub?: string): { flags: Flags; positionals: string[] } {
  return parseCommandLine(argv, { ...COMMON_OPTIONS, ...options }, help, sub);
}

/** The options with a help line added to each flag that has none (for commands that keep their lines elsewhere). */
export function described<T extends FlagOptions>(options: T, lines: Readonly<Record<string, string>>): T {
  return Object.fromEntries(Object.entries(options).map(([flag, spec]) => [flag, spec.description || !lines[flag] ? spec : { ...spec, description: lines[flag] }])) as T;
}

/** Thrown once --help was printed: nothing went wrong, there is just nothing more to do. */
export class HelpShown extends CliError {
  constructor() {
    super('help shown', EXIT.OK);
    this.name = 'HelpShown';
  }
}

export function str(flags: Flags, name: string, fallback?: string): string {
  const v = flags[name];
  if (typeof v === 'string' && v.length > 0) return v;
  if (fallback !== undefined) return fallback;
  throw new CliError(`--${name} is required`);
}

export function int(flags: Flags, name: string, range: { min: number; max?: number; fallback?: number }): number {
  const raw = flags[name];
  if (raw === undefined) {
    if (range.fallback !== undefined) return range.fallback;
    throw new CliError(`--${name} is required`);
  }
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value)) {
    throw new CliError(`--${name} must be an integer, got "${String(raw)}"`, EXIT.USAGE);
  }
  if (value < range.min || (range.max !== undefined && value > range.max)) {
    throw new CliError(`--${name} must be in [${range.min}, ${range.max ?? '∞'}], got ${value}`, EXIT.USAGE);
  }
  return value;
}

export function num(flags: Flags, name: string, check: { fallback?: number; test: (v: number) => boolean; expect: string }): number {
  const raw = flags[name];
  if (raw === undefined) {
    if (check.fallback !== undefined) return check.fallback;
    throw new CliError(`--${name} is required`);
  }
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(value) || !check.test(value)) throw new CliError(`--${name} must be ${check.expect}, got "${String(raw)}"`);
  return value;
}

export function oneOf<T extends string>(flags: Flags, name: string, choices: readonly T[], fallback?: T): T {
  const raw = flags[name] ?? fallback;
  if (raw === undefined) throw new CliError(`--${name} is required (one of ${choices.join(', ')})`);
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new CliError(`--${name} must be one of ${choices.join(', ')}, got "${String(raw)}"`);
  }
  return raw as T;
}

/** What a command returns: printed as JSON with --json, or as its human text. */
export interface CommandResult {
  json: unknown;
  text: string;
}

export function output(flags: Flags, result: CommandResult): void {
  if (flags['json']) process.stdout.write(JSON.stringify(result.json, null, 2) + '\n');
  else if (result.text) process.stdout.write(result.text + '\n');
}

export const CLIENT_TLS_OPTIONS = {
  'tls-ca': { type: 'string', value: 'CA.pem', description: 'TLS: the CA that signed the coordinator\'s certificate (none of the --tls-* flags: plaintext)' },
  'tls-cert': { type: 'string', value: 'CERT.pem', description: 'mutual TLS: this client\'s certificate (with --tls-key)' },
  'tls-key': { type: 'string', value: 'KEY.pem', description: 'mutual TLS: this client\'s private key (with --tls-cert)' },
} as const satisfies FlagOptions;

/** A PEM file named by --NAME, read and roughly checked; unset: undefined. */
export function pemFlag(flags: Flags, name: string): Buffer | undefined {
  const path = flags[name];
  if (path === undefined) return undefined;
  try {
    const contents = readFileSync(String(path));
    if (!contents.includes('-----BEGIN ')) throw new Error('not a PEM file');
    return contents;
  } catch (err) {
    throw new CliError(`--${name} ${String(path)}: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}

/** --tls-ca (and, for mutual TLS, --tls-cert with --tls-key); none of them: plaintext. */
export function clientTlsFromFlags(flags: Flags): ClientTls | undefined {
  const caPem = pemFlag(flags, 'tls-ca');
  const certPem = pemFlag(flags, 'tls-cert');
  const keyPem = pemFlag(flags, 'tls-key');
  if (!caPem) {
    if (certPem || keyPem) throw new CliError('--tls-cert/--tls-key need --tls-ca (the CA that signed the coordinator)');
    return undefined;
  }
  if ((certPem === undefined) !== (keyPem === undefined)) throw new CliError('--tls-cert and --tls-key go together');
  return { caPem, ...(certPem ? { certPem } : {}), ...(keyPem ? { keyPem } : {}) };
}
