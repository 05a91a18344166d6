import { MessageFlags, type InteractionReplyOptions } from 'discord.js';
import { UserError } from '../../../core/errors.js';

/**
 * What a user reads when something went wrong: a UserError's own short message, or, for our
 * failures, an apology with a reference to find the log line by. Always ephemeral.
 */
export function renderRefusal(error: unknown, reference: string): InteractionReplyOptions & { flags: MessageFlags.Ephemeral } {
  const content = error instanceof UserError ? error.message : `Something broke on our side (ref ${reference}). Please try again in a few minutes.`;
  return { content, flags: MessageFlags.Ephemeral, components: [] };
}
