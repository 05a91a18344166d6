import { ConfigError, UserError } from '../errors.js';

/**
 * Runs one CLI action and turns its failure into what a terminal user should see: the settings
 * problems one per line (exit 2), a UserError's message (exit 1), or a one-line internal error.
 * No stack traces, unless the caller's `onInternalError` shows them (stembot.ts does with LOG_LEVEL=debug).
 */
export async function runCliAction(action: () => Promise<void>, onInternalError?: (error: unknown) => void): Promise<void> {
  try {
    await action();
  } catch (error) {
    process.exitCode = reportCliError(error, onInternalError);
  }
}

export function reportCliError(error: unknown, onInternalError?: (error: unknown) => void): number {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) console.error(`stembot: invalid setting ${problem}`);
    return 2;
  }
  if (error instanceof UserError) {
    console.error(`stembot: ${error.message}`);
    return 1;
  }
  onInternalError?.(error);
  console.error(`stembot: internal error: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}
