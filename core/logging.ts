import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line, at any depth: chat tokens, signing secrets and
 * connection strings travel inside settings objects, so a fixed list of pino redact paths (which
 * match one level per wildcard) would miss some shape sooner or later.
 */
const SECRET_KEY = /token|secret|password|passwd|authorization|cookie|databaseurl|redisurl|connectionstring|credential/i;
const REDACTED = '[redacted]';

/**
 * Secrets that hide inside ordinary strings (a message, an error's `url` or `stack`, a URL under a
 * harmless key), each rewritten so the part an operator needs to debug (host, route, ids) stays.
 */
const SECRET_IN_TEXT: readonly [RegExp, string][] = [
  // Discord puts the webhook or interaction token in the path: /webhooks/<app id>/<token>/...,
  // /interactions/<interaction id>/<token>/callback. Ids are snowflakes, which keeps file paths out.
  [/(\/(?:webhooks|interactions)\/\d+\/)[^/\s?#"'`]+/gi, `$1${REDACTED}`],
  // The password of scheme://user:password@host (redis://:password@host too); user, host and db stay.
  [/(\b[a-z][a-z\d+.-]*:\/\/[^\s:@/?#"'`]*:)[^\s@/?#"'`]*@/gi, `$1${REDACTED}@`],
  // An Authorization header written out, whatever the token's shape or length.
  [/(authorization["']?\s*[:=]\s*["']?(?:(?:Bot|Bearer|Basic)\s+)?)[^\s"',;}]+/gi, `$1${REDACTED}`],
  // A scheme and token without the header name ("Bot MTE0...", "Bearer ey..."): long enough that
  // prose such as "Bot started" is left alone.
  [/\b(Bot|Bearer)\s+[\w.~+/-]{20,}=*/g, `$1 ${REDACTED}`],
  // Slack tokens: xoxb- (bot), xoxp- (user), xapp- (app-level), xoxe- (refresh) and the rest.
  [/\b(xox[a-z]|xapp)-[\w-]+/gi, `$1-${REDACTED}`],
  // A Discord bot token on its own: base64 user id, timestamp and HMAC joined by dots.
  [/\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}/g, REDACTED],
  // Query parameters named like a secret: ?token=, &access_token=, &X-Amz-Signature=, &sig=.
  [/([?&][^=&\s#"'`]*(?:token|secret|password|passwd|signature|sig|key)=)[^&\s#"'`]+/gi, `$1${REDACTED}`],
];

function redactText(text: string): string {
  return SECRET_IN_TEXT.reduce((current, [pattern, replacement]) => current.replace(pattern, replacement), text);
}

/** Redacts parsed log data: values under a secret-named key, and secrets inside every string. */
function redactSecrets(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item));
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) && inner != null ? REDACTED : redactSecrets(inner)]));
}

/**
 * Redacts a finished line, the only place that sees everything pino writes: the message, child()
 * bindings, and errors after pino's serializer has turned them into plain data (with their own
 * properties, such as a DiscordAPIError's `url` and `requestBody`, and their causes' messages).
 * Redacting what callers pass in instead would need a walker for Error objects, class instances,
 * bindings and the message separately, and each missed shape would leak. Lines are small and rare
 * enough (a chat bot, not a request-per-millisecond server) that the parse costs nothing noticeable.
 */
function redactLine(line: string): string {
  try {
    return `${JSON.stringify(redactSecrets(JSON.parse(line)))}\n`;
  } catch {
    // pino writes one JSON object per line; should that ever change, the text rules still apply.
    return redactText(line);
  }
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
    hooks: { streamWrite: redactLine },
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
