import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../core/logging.js';

/**
 * Bolt's and its clients' logs into pino. Bolt's own info lines (connected, reconnecting) are
 * pino debug: routine for us. Arguments are stringified, never spread as objects, so a request
 * config a library might log cannot carry a token into a structured field.
 */
export function boltLogger(logger: Logger): BoltLogger {
  const text = (parts: unknown[]) => parts.map((part) => (part instanceof Error ? part.message : String(part))).join(' ');
  return {
    debug: (...parts: unknown[]) => logger.trace(text(parts)),
    info: (...parts: unknown[]) => logger.debug(text(parts)),
    warn: (...parts: unknown[]) => logger.warn(text(parts)),
    error: (...parts: unknown[]) => logger.error(text(parts)),
    // pino's level is set by LOG_LEVEL for the whole process; Bolt does not get to change it.
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
