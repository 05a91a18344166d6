import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line, at any depth: chat tokens, signing secrets and
 * connection strings travel inside settings objects, so a fixed list of pino redact paths (which
 * match one level per wildcard) would miss some shape sooner or later.
 */
const SECRET_KEY = /token|secret|password|passwd|authorization|cookie|databaseurl|redisurl|connectionstring/i;
const REDACTED = '[redacted]';
const MAX_DEPTH = 8;

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) && inner != null ? REDACTED : redactSecrets(inner, depth + 1)]),
  );
}

export interface LoggerSettings {
  /** pino level name; `silent` turns logging off (the test default). */
  level: string;
  /** Pretty, human-readable lines; defaults to "stdout is a terminal". */
  pretty?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/** The one place a root logger is made; everything else takes `.child({ jobId, guildId, ... })`. */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid },
    formatters: { log: (object) => redactSecrets(object) as Record<string, unknown> },
  };
  const pretty = settings.pretty ?? (settings.destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** Hides the password inside a connection URL so the host and database can still be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
