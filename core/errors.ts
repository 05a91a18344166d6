/**
 * Errors a user may read. `code` is stable (tests and adapters switch on it); `message` is one or
 * two short sentences that say what went wrong and what to do next, worded for chat or a terminal.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Settings that cannot start the process; every problem is listed, one line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
