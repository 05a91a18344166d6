import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import type { RefusalView } from './message-view.js';

/**
 * What a user sees when a command failed. A UserError says what to do in its own words; anything
 * else is ours, so the user gets only a short reference and the error is logged with it, with
 * `context` (which interaction, which request), for the operator to find.
 */
export function refusalFor(error: unknown, logger: Logger, context: Record<string, unknown>): RefusalView {
  if (error instanceof UserError) return { kind: 'refusal', cause: { type: 'user', code: error.code, message: error.message } };
  const reference = randomBytes(4).toString('hex');
  logger.error({ err: error, reference, ...context }, 'interaction failed');
  return { kind: 'refusal', cause: { type: 'internal', reference } };
}
