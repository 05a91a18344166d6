import type { RefusalView } from '../../chat/message-view.js';
import { neutraliseSentence } from './mrkdwn.js';

/**
 * What the asker alone reads when something went wrong: a UserError's own short message (it may
 * name their file, so it is neutralised), or, for our failures, a reference to find the log line by.
 */
export function renderRefusal(view: RefusalView): string {
  return view.cause.type === 'user' ? neutraliseSentence(view.cause.message) : `Something broke on our side (ref ${view.cause.reference}). Please try again in a few minutes.`;
}
