import { ActionRowBuilder, ButtonBuilder, ButtonStyle, type BaseMessageOptions } from 'discord.js';
import type { RequestSummary } from '../../../core/requests/request-queries.js';
import type { JobsPageView } from '../../chat/message-view.js';
import { discordMessageSchema } from '../request-messages.js';
import { escapeUserText, neutraliseSentence } from './user-text.js';

const STATE_ICONS: Record<RequestSummary['state'], string> = { queued: '⏳', running: '⚙️', completed: '✅', failed: '❌', cancelled: '🚫' };

/** `jobs:<page>`: the page number is all a button carries (see chat/jobs-page.ts). */
export const jobsButtonId = (page: number): string => `jobs:${page}`;

function line(item: RequestSummary): string {
  const where = discordMessageSchema.safeParse(item.platformMessage);
  const link = where.success && where.data.messageId ? ` · [message](https://discord.com/channels/${where.data.guildId}/${where.data.channelId}/${where.data.channelMessageId ?? where.data.messageId})` : '';
  const when = `<t:${Math.floor(item.createdAt.getTime() / 1000)}:R>`;
  return `${STATE_ICONS[item.state]} **${item.title ? escapeUserText(item.title) : 'Untitled'}** — ${item.state}${item.error ? ` (${neutraliseSentence(item.error.message)})` : ''} · ${when}${link}`;
}

/** One page of `/jobs`, with Prev and Next buttons. */
export function renderJobsPage(view: JobsPageView): BaseMessageOptions {
  if (view.items.length === 0) return { content: 'You have no separations in this server yet. Try `/separate link:<YouTube link>`.', components: [] };
  const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(jobsButtonId(view.page - 1)).setLabel('Prev').setStyle(ButtonStyle.Secondary).setDisabled(view.page === 0),
    new ButtonBuilder().setCustomId(jobsButtonId(view.page + 1)).setLabel('Next').setStyle(ButtonStyle.Secondary).setDisabled(!view.hasNext),
  );
  return { content: [`**Your separations** (page ${view.page + 1})`, ...view.items.map(line)].join('\n'), components: [buttons] };
}
