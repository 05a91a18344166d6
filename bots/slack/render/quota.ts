import { formatDuration } from '../../../core/quotas/quota-ledger.js';
import type { QuotaReport } from '../../../core/quotas/quota-service.js';
import type { QuotaView } from '../../chat/message-view.js';
import { progressBar } from '../../chat/progress-text.js';

/** Slack's date token: the reader's own time zone, and a plain fallback. */
const slackDate = (date: Date): string => `<!date^${Math.floor(date.getTime() / 1000)}^{date_short_pretty} {time}|${date.toISOString()}>`;

/** The quota lines shared by `/stembot quota` and the App Home tab. */
export function quotaLines(report: QuotaReport): string[] {
  const window = (label: string, used: number, limit: number, resetsAt: Date) =>
    `${label}: ${progressBar(limit > 0 ? used / limit : 1)} ${formatDuration(used)} of ${formatDuration(limit)} · resets ${slackDate(resetsAt)}`;
  const { limits } = report;
  return [
    window('Today', report.day.usedSeconds, report.day.limitSeconds, report.day.resetsAt),
    window('This month', report.month.usedSeconds, report.month.limitSeconds, report.month.resetsAt),
    `Running now: ${report.activeJobs} of ${limits.concurrentJobs} · longest track: ${formatDuration(limits.maxTrackSeconds)} · wait between requests: ${formatDuration(limits.userCooldownSeconds)}`,
    `Models: ${limits.allowedModels.join(', ')}`,
    report.overridden.length > 0 ? `Set by this workspace’s admins: ${report.overridden.join(', ')}` : 'Using the bot’s default limits.',
  ];
}

/** A workspace's limits and usage, as mrkdwn. */
export function renderQuota(view: QuotaView): string {
  return [...(view.saved ? ['Saved.'] : []), '*This workspace’s separation limits*', ...quotaLines(view.report)].join('\n');
}
