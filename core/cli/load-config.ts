import { parseConfig, readEnvironment, type Config } from '../config.js';
import { createLogger, type Logger } from '../logging.js';

/** Settings and the root logger for a CLI command; `overrides` are flags that win over the env. */
export function loadConfig(overrides: Record<string, string | undefined> = {}): { config: Config; logger: Logger } {
  const env = { ...readEnvironment(process.cwd()), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const config = parseConfig(env);
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty });
  return { config, logger };
}
