import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out before a line is written. Settings objects, connection strings and chat
 * credentials travel through log context in several shapes, so every known spelling is listed.
 */
export const REDACTED_PATHS = [
  'token',
  'password',
  'secret',
  'authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.discordToken',
  '*.slackBotToken',
  '*.slackAppToken',
  '*.slackSigningSecret',
  '*.databaseUrl',
  '*.redisUrl',
  'config.discordToken',
  'config.slackBotToken',
  'config.slackAppToken',
  'config.slackSigningSecret',
  'config.databaseUrl',
  'config.redisUrl',
  'headers.authorization',
  'req.headers.authorization',
];

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
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
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
