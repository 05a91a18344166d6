import type { ProgressView } from '../../chat/message-view.js';
import { progressLine } from '../../chat/progress-text.js';
import { escapeUserText } from './mrkdwn.js';
import { section, type SlackPayload } from './payload.js';

/** The Cancel button's action_id; its value is the request id. */
export const CANCEL_ACTION = 'stembot_cancel';

/** The request's message while it runs: title, stage, a bar, ETA, and a Cancel button that asks first. */
export function renderProgress(view: ProgressView): SlackPayload {
  const title = escapeUserText(view.title);
  // The line is plain text (block characters, digits), so it needs no mrkdwn escaping.
  const line = progressLine(view);
  return {
    text: `${title}: ${line}`,
    blocks: [
      section(`*${title}*\n${line}`),
      {
        type: 'actions',
        block_id: 'stembot_progress',
        elements: [
          {
            type: 'button',
            action_id: CANCEL_ACTION,
            value: view.requestId,
            text: { type: 'plain_text', text: 'Cancel' },
            confirm: {
              title: { type: 'plain_text', text: 'Cancel this separation?' },
              text: { type: 'plain_text', text: 'Nothing is charged for a cancelled separation.' },
              confirm: { type: 'plain_text', text: 'Cancel it' },
              deny: { type: 'plain_text', text: 'Keep going' },
            },
          },
        ],
      },
    ],
  };
}
