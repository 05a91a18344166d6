import { refusalFor } from '../../chat/failure-reference.js';
import type { SlackContext } from '../context.js';
import { renderRefusal } from '../render/refusal.js';

/**
 * Tells the asker alone why their ask failed (`tell` is the listener's private channel to them:
 * an ephemeral response or chat.postEphemeral); internal errors get a log reference.
 */
export async function answerFailure(error: unknown, context: SlackContext, tell: (text: string) => Promise<unknown>, where: Record<string, unknown>): Promise<void> {
  const refusal = refusalFor(error, context.logger, where);
  try {
    await tell(renderRefusal(refusal));
  } catch (tellError) {
    context.logger.warn({ err: (tellError as Error).message, ...where }, 'could not tell the user about a failure');
  }
}
