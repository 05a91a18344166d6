import type { types } from '@slack/bolt';
import type { RequestSummary } from '../../../core/requests/request-queries.js';
import type { JobsPageView } from '../../chat/message-view.js';
import { escapeUserText, neutraliseSentence } from './mrkdwn.js';
import { section, type SlackPayload } from './payload.js';

const STATE_ICONS: Record<RequestSummary['state'], string> = { queued: '⏳', running: '⚙️', completed: '✅', failed: '❌', cancelled: '🚫' };

/** The Prev/Next buttons' action_id; the value is the page to show (see chat/jobs-page.ts). */
export const JOBS_PAGE_ACTION = 'stembot_jobs_page';

/** One request as a line; Slack's `<!date^…>` shows the time in the reader's own zone. */
export function jobLine(item: RequestSummary): string {
  const seconds = Math.floor(item.createdAt.getTime() / 1000);
  const when = `<!date^${seconds}^{date_short_pretty} {time}|${item.createdAt.toISOString()}>`;
  return `${STATE_ICONS[item.state]} *${item.title ? escapeUserText(item.title) : 'Untitled'}* — ${item.state}${item.error ? ` (${neutraliseSentence(item.error.message)})` : ''} · ${when}`;
}

function pageButton(label: string, page: number): types.Button {
  return { type: 'button', action_id: `${JOBS_PAGE_ACTION}_${label.toLowerCase()}`, value: String(page), text: { type: 'plain_text', text: label } };
}

/** One page of `/stembot jobs`; Prev and Next appear only where there is a page to go to. */
export function renderJobsPage(view: JobsPageView): SlackPayload {
  if (view.items.length === 0) {
    const text = 'You have no separations in this workspace yet. Try `/separate <YouTube link>`.';
    return { text, blocks: [section(text)] };
  }
  const buttons = [...(view.page > 0 ? [pageButton('Prev', view.page - 1)] : []), ...(view.hasNext ? [pageButton('Next', view.page + 1)] : [])];
  const text = [`*Your separations* (page ${view.page + 1})`, ...view.items.map(jobLine)].join('\n');
  return { text: `Your separations (page ${view.page + 1})`, blocks: [section(text), ...(buttons.length > 0 ? [{ type: 'actions' as const, elements: buttons }] : [])] };
}
