import { MessageFlags, type InteractionReplyOptions } from 'discord.js';
import type { RefusalView } from '../../chat/message-view.js';
import { neutraliseSentence } from './user-text.js';

/**
 * What a user reads when something went wrong: a UserError's own short message, or, for our
 * failures, an apology with a reference to find the log line by. Always ephemeral. A UserError may
 * name the user's file (the attachment fetcher's do), so its message is neutralised.
 */
export function renderRefusal(view: RefusalView): InteractionReplyOptions & { flags: MessageFlags.Ephemeral } {
  const content = view.cause.type === 'user' ? neutraliseSentence(view.cause.message) : `Something broke on our side (ref ${view.cause.reference}). Please try again in a few minutes.`;
  return { content, flags: MessageFlags.Ephemeral, components: [] };
}
