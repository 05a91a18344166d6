import { MessageFlags, type InteractionReplyOptions } from 'discord.js';
import { UserError } from '../../../core/errors.js';
import { neutraliseSentence } from './user-text.js';

/**
 * What a user reads when something went wrong: a UserError's own short message, or, for our
 * failures, an apology with a reference to find the log line by. Always ephemeral. A UserError may
 * name the user's file (the attachment fetcher's do), so its message is neutralised.
 */
export function renderRefusal(error: unknown, reference: string): InteractionReplyOptions & { flags: MessageFlags.Ephemeral } {
  const content = error instanceof UserError ? neutraliseSentence(error.message) : `Something broke on our side (ref ${reference}). Please try again in a few minutes.`;
  return { content, flags: MessageFlags.Ephemeral, components: [] };
}
