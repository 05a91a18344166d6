import type { types } from '@slack/bolt';
import { formatDuration } from '../../../core/quotas/quota-ledger.js';
import type { QuotaReport } from '../../../core/quotas/quota-service.js';
import type { RequestSummary } from '../../../core/requests/request-queries.js';
import { jobLine } from './jobs.js';
import { section } from './payload.js';
import { quotaLines } from './quota.js';

/** The App Home tab: what is left today, the workspace's limits, and the user's recent requests. */
export function renderHome(report: QuotaReport, recent: RequestSummary[]): types.HomeView {
  const left = Math.max(0, report.day.limitSeconds - report.day.usedSeconds);
  return {
    type: 'home',
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'stembot' } },
      section(`*${formatDuration(left)} left today* in this workspace.\n${quotaLines(report).join('\n')}`),
      { type: 'divider' },
      section(recent.length > 0 ? ['*Your recent separations*', ...recent.map(jobLine)].join('\n') : 'You have no separations here yet. Try `/separate <YouTube link>` in a channel.'),
    ],
  };
}
