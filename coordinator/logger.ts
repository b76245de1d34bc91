/**
 * Structured JSON lines on stderr (stdout belongs to --json output), written by pino.
 *
 * Callers pass facts, never secrets — and the logger does not rely on that: a redaction list removes
 * fields whose names mean a credential, a key, a share or an update, and a last pass over every
 * value replaces anything shaped like one (a JWT, a PEM key, binary data, long numeric arrays)
 * wherever it sits, including inside error messages. A log is read by more people than the
 * coordinator's operator, and a leaked token or update is a federation's privacy gone.
 */
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const CENSOR = '[redacted]';

/** Field names whose value is never logged, at any depth (matched case-insensitively, ignoring - and _). */
const SECRET_FIELDS = [
  'token', 'adminToken', 'siteToken', 'authorization', 'bearer', 'password', 'secret', 'secretKey', 'privateKey', 'key', 'keyPem', 'jwk',
  'seed', 'selfMaskSeed', 'maskSeed', 'share', 'shares', 'encryptedShares', 'ciphertext', 'ciphertexts', 'wrappedKey',
  'update', 'updates', 'delta', 'values', 'weights', 'tensor', 'gradients', 'plaintext', 'chunk', 'data',
];
const SECRET_NAMES = new Set(SECRET_FIELDS.map(normalize));

function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** A compact JWS/JWT (three base64url parts, the first a JSON header), a PEM block, or a long hex/base64 run (key material). */
const SECRET_TEXT = [
  /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g,
  /-----BEGIN [A-Z ]+-----[\s\S]*?(?:-----END [A-Z ]+-----|$)/g,
  /\b[0-9a-fA-F]{64,}\b/g,
  /[A-Za-z0-9+/_-]{80,}={0,2}/g,
];

/** Past this many numbers an array is data (an update, a key), not a fact about the run. */
const MAX_NUMBERS = 16;
const MAX_DEPTH = 6;

function scrubText(text: string): string {
  let out = text;
  for (const pattern of SECRET_TEXT) out = out.replace(pattern, CENSOR);
  return out;
}

/** Exported for tests: the pass every logged object goes through. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return `[${byteLength(value)} bytes redacted]`;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (value instanceof Error) return { name: value.name, message: scrubText(value.message), ...(value.stack ? { stack: scrubText(value.stack) } : {}) };
  if (Array.isArray(value)) {
    if (value.length > MAX_NUMBERS && value.every((v) => typeof v === 'number')) return `[${value.length} numbers redacted]`;
    return value.map((v) => scrub(v, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = SECRET_NAMES.has(normalize(k)) ? CENSOR : scrub(v, depth + 1);
  return out;
}

function byteLength(value: ArrayBufferView | ArrayBufferLike): number {
  return 'byteLength' in value ? value.byteLength : 0;
}

export function createLogger(options: { level?: LogLevel | 'silent'; component: string; sink?: (line: string) => void }): Logger {
  const level = options.level ?? (process.env['CONCLAVE_LOG_LEVEL'] as LogLevel | undefined) ?? 'info';
  const sink = options.sink;
  const destination = sink ? { write: (line: string) => sink(line.trimEnd()) } : pino.destination({ fd: 2, sync: true });
  const base = pino({
    level: ['debug', 'info', 'warn', 'error', 'silent'].includes(level) ? level : 'info',
    base: { component: options.component },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    formatters: {
      level: (label) => ({ level: label }),
      // Bindings (child fields) and each line's fields both pass the scrub.
      bindings: (bindings) => scrub(bindings) as Record<string, unknown>,
      log: (object) => scrub(object) as Record<string, unknown>,
    },
    // pino's own path redaction runs first on the well-known top-level and one-level-deep names.
    redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: CENSOR },
  }, destination);
  const wrap = (p: pino.Logger): Logger => ({
    debug: (msg, fields) => p.debug(fields ?? {}, scrubText(msg)),
    info: (msg, fields) => p.info(fields ?? {}, scrubText(msg)),
    warn: (msg, fields) => p.warn(fields ?? {}, scrubText(msg)),
    error: (msg, fields) => p.error(fields ?? {}, scrubText(msg)),
    child: (fields) => wrap(p.child(fields)),
  });
  return wrap(base);
}

export const silentLogger: Logger = createLogger({ component: 'silent', level: 'silent', sink: () => {} });
