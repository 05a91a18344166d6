import type { ClusterStatus } from '../../../core/workers/cluster-status.js';
import { statusReport } from '../../../core/workers/status-report.js';
import { statusMessage } from '../../chat/status-text.js';
import { escapeEntities } from './mrkdwn.js';

/** Slack's advice for a message's text: longer ones are hard to read, and past 40,000 cut off. */
const MAX_TEXT_LENGTH = 4000;

/**
 * `/stembot status` for workspace admins, as mrkdwn: core's status report (the same words as
 * `stembot status` and Discord). Worker lines have their entities escaped, so nothing in them is a
 * mention or link, and each backtick becomes a look-alike, since a real one could end the block
 * (mrkdwn has no escape).
 */
export function renderStatus(status: ClusterStatus): string {
  return statusMessage(statusReport(status), {
    head: (report) => [`*${escapeEntities(report.headline)}*`, ...report.figures.map(escapeEntities)].join('\n'),
    codeLine: (line) => escapeEntities(line).replaceAll('`', '\u02cb'),
    block: (lines) => `\n\`\`\`${lines.join('\n')}\`\`\``,
    maxLength: MAX_TEXT_LENGTH,
  });
}
