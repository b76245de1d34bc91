/**
 * The command-line contract both CLIs keep: the operator's (coordinator/cli) and the site's
 * (client-sdk/cli). Exit codes are part of the wire contract for scripts, as error codes are for
 * clients, so they are decided here, next to the gRPC status table, in one place.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ConclaveError, type ErrorCode } from './errors.ts';
import type { ClientTls } from './client.ts';

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
} as const;

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
  INVALID_ARGUMENT: EXIT.INVALID_INPUT, LAYOUT_MISMATCH: EXIT.INVALID_INPUT, NON_FINITE_VALUE: EXIT.INVALID_INPUT, MALFORMED_STREAM: EXIT.INVALID_INPUT,
  DIGEST_MISMATCH: EXIT.INVALID_INPUT, NOT_FOUND: EXIT.NOT_FOUND, UNAVAILABLE: EXIT.UNAVAILABLE,
  ALREADY_EXISTS: EXIT.CONFLICT, DUPLICATE_SUBMISSION: EXIT.CONFLICT, ROUND_CLOSED: EXIT.CONFLICT, FEDERATION_STATE: EXIT.CONFLICT,
  BUDGET_EXCEEDED: EXIT.BUDGET, LEDGER_INVALID: EXIT.LEDGER_INVALID,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConclaveError) return EXIT_FOR_CODE[err.code] ?? EXIT.FAILURE;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('DP_')) return EXIT.INVALID_INPUT;
  return EXIT.FAILURE;
}

export const COMMON_OPTIONS = {
  'data-dir': { type: 'string', default: './.conclave' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsOptionsConfig;

export type Flags = Record<string, string | boolean | undefined>;

export function parseFlags<T extends ParseArgsOptionsConfig>(argv: string[], options: T, usage: string): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { flags: values as Flags, positionals };
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${usage}`);
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
  'tls-ca': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
} as const;

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
