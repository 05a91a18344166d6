import { escapeMarkdown, type MessageMentionOptions } from 'discord.js';
import type { ClusterStatus } from '../../../core/workers/cluster-status.js';
import { statusReport } from '../../../core/workers/status-report.js';
import { statusMessage } from '../../chat/status-text.js';
import { NO_MENTIONS } from './user-text.js';

/** Discord's limit on a message's content. */
const MAX_CONTENT_LENGTH = 2000;
const ZERO_WIDTH_SPACE = '\u200b';

/**
 * `/status` for server admins: core's status report (the same words as `stembot status` and Slack).
 * Inside the code block Discord shows markdown, mentions and links as the plain characters they
 * are (allowed mentions are what stops pings); only a backtick could end the block early, so each
 * is followed by a zero-width space, which reads the same.
 */
export function renderStatus(status: ClusterStatus): { content: string; allowedMentions: MessageMentionOptions } {
  const content = statusMessage(statusReport(status), {
    head: (report) => [`**${escapeMarkdown(report.headline)}**`, ...report.figures.map((figure) => escapeMarkdown(figure))].join('\n'),
    codeLine: (line) => line.replaceAll('`', `\`${ZERO_WIDTH_SPACE}`),
    block: (lines) => `\n\`\`\`\n${lines.join('\n')}\n\`\`\``,
    maxLength: MAX_CONTENT_LENGTH,
  });
  return { content, allowedMentions: NO_MENTIONS };
}
