/**
 * Structured JSON lines on stderr (stdout belongs to --json output). Callers pass facts, never
 * secrets: no tokens, keys, shares or raw updates go into fields.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(options: { level?: LogLevel; component: string; sink?: (line: string) => void }): Logger {
  const min = ORDER[options.level ?? (process.env['CONCLAVE_LOG_LEVEL'] as LogLevel | undefined) ?? 'info'] ?? ORDER.info;
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + '\n'));
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      sink(JSON.stringify({ t: new Date().toISOString(), level, msg, ...base, ...fields }));
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make({ component: options.component });
}

export const silentLogger: Logger = createLogger({ component: 'silent', level: 'error', sink: () => {} });
