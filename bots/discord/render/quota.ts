import { formatDuration } from '../../../core/quotas/quota-ledger.js';
import type { QuotaView } from '../../chat/message-view.js';
import { progressBar } from '../../chat/progress-text.js';

/** A guild's limits and usage, with Discord timestamps that count down to each reset. */
export function renderQuota(view: QuotaView): string {
  const { report } = view;
  const window = (label: string, used: number, limit: number, resetsAt: Date) =>
    `${label}: ${progressBar(limit > 0 ? used / limit : 1)} ${formatDuration(used)} of ${formatDuration(limit)} · resets <t:${Math.floor(resetsAt.getTime() / 1000)}:R>`;
  const { limits } = report;
  return [
    ...(view.saved ? ['Saved.'] : []),
    '**This server’s separation limits**',
    window('Today', report.day.usedSeconds, report.day.limitSeconds, report.day.resetsAt),
    window('This month', report.month.usedSeconds, report.month.limitSeconds, report.month.resetsAt),
    `Running now: ${report.activeJobs} of ${limits.concurrentJobs} · longest track: ${formatDuration(limits.maxTrackSeconds)} · wait between requests: ${formatDuration(limits.userCooldownSeconds)}`,
    `Models: ${limits.allowedModels.join(', ')}`,
    report.overridden.length > 0 ? `Set by this server’s admins: ${report.overridden.join(', ')}` : 'Using the bot’s default limits.',
  ].join('\n');
}
