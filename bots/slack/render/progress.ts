import type { PreviewView, ProgressView } from '../../chat/message-view.js';
import { previewPostedText, progressLine, spanText } from '../../chat/progress-text.js';
import { escapeUserText } from './mrkdwn.js';
import { section, type SlackPayload } from './payload.js';

/** The Cancel button's action_id; its value is the request id. */
export const CANCEL_ACTION = 'stembot_cancel';

/** The request's message while it runs: title, stage, a bar, ETA, and a Cancel button that asks first. */
export function renderProgress(view: ProgressView): SlackPayload {
  // The line is plain text (block characters, digits), so it needs no mrkdwn escaping.
  return running(view.title, view.requestId, progressLine(view));
}

/** The request's message once the preview is out; its stems go into the thread (see request-messages.ts). */
export function renderPreview(view: PreviewView): SlackPayload {
  return running(view.title, view.requestId, `${previewPostedText(view)} The preview is in the thread.`);
}

/** The comment on the preview's upload: no mention, the result's will ping. */
export function renderPreviewComment(view: PreviewView): string {
  return `Preview of *${escapeUserText(view.title)}* (${spanText(view)}), separated first; the whole song follows here.`;
}

function running(rawTitle: string, requestId: string, line: string): SlackPayload {
  const title = escapeUserText(rawTitle);
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
            value: requestId,
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
