import { ActionRowBuilder, ButtonBuilder, ButtonStyle, MessageFlags, SlashCommandBuilder, type BaseMessageOptions, type ButtonInteraction } from 'discord.js';
import type { RequestSummary } from '../../../core/requests/request-queries.js';
import type { DiscordContext } from '../context.js';
import { requireGuild } from '../guards/manage-guild.js';
import { escapeUserText, neutraliseSentence } from '../render/user-text.js';
import { discordMessageSchema } from '../request-messages.js';
import type { DiscordCommand } from './command.js';

const PAGE_SIZE = 5;
const STATE_ICONS: Record<RequestSummary['state'], string> = { queued: '⏳', running: '⚙️', completed: '✅', failed: '❌', cancelled: '🚫' };

function line(item: RequestSummary): string {
  const where = discordMessageSchema.safeParse(item.platformMessage);
  const link = where.success && where.data.messageId ? ` · [message](https://discord.com/channels/${where.data.guildId}/${where.data.channelId}/${where.data.channelMessageId ?? where.data.messageId})` : '';
  const when = `<t:${Math.floor(item.createdAt.getTime() / 1000)}:R>`;
  return `${STATE_ICONS[item.state]} **${item.title ? escapeUserText(item.title) : 'Untitled'}** — ${item.state}${item.error ? ` (${neutraliseSentence(item.error.message)})` : ''} · ${when}${link}`;
}

/**
 * Page `page` (0-based). Buttons carry only the page number: a page is found again by walking
 * core's cursors from the start, which keeps custom_ids short and the bot stateless.
 */
async function renderPage(context: DiscordContext, who: { tenantId: string; userId: string }, page: number): Promise<BaseMessageOptions> {
  let cursor: string | undefined;
  let result = await context.core.list({ platform: 'discord', ...who }, undefined, PAGE_SIZE);
  for (let i = 0; i < page && result.nextCursor; i += 1) {
    cursor = result.nextCursor;
    result = await context.core.list({ platform: 'discord', ...who }, cursor, PAGE_SIZE);
  }
  if (result.items.length === 0) return { content: 'You have no separations in this server yet. Try `/separate link:<YouTube link>`.', components: [] };
  const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(`jobs:${page - 1}`).setLabel('Prev').setStyle(ButtonStyle.Secondary).setDisabled(page === 0),
    new ButtonBuilder().setCustomId(`jobs:${page + 1}`).setLabel('Next').setStyle(ButtonStyle.Secondary).setDisabled(!result.nextCursor),
  );
  return { content: [`**Your separations** (page ${page + 1})`, ...result.items.map(line)].join('\n'), components: [buttons] };
}

export const jobsCommand: DiscordCommand = {
  definition: new SlashCommandBuilder().setName('jobs').setDescription('Your recent separations in this server').setContexts(0).toJSON(),
  async execute(interaction, context) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    await interaction.editReply(await renderPage(context, { tenantId: requireGuild(interaction), userId: interaction.user.id }, 0));
  },
  buttons: {
    prefix: 'jobs',
    async handle(interaction: ButtonInteraction, argument: string, context: DiscordContext) {
      const page = Math.max(0, Number.parseInt(argument, 10) || 0);
      await interaction.update(await renderPage(context, { tenantId: requireGuild(interaction), userId: interaction.user.id }, page));
    },
  },
};
