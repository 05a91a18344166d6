import type { types } from '@slack/bolt';

/** A message as Slack takes it: `text` is the notification and screen-reader fallback, `blocks` what is shown. */
export interface SlackPayload {
  text: string;
  blocks: types.KnownBlock[];
}

/** One mrkdwn section: the common case of a message that is a few lines of text. */
export function section(text: string): types.KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}
