import { MessageFlags, SlashCommandBuilder, type BaseMessageOptions, type ButtonInteraction } from 'discord.js';
import { loadJobsPage } from '../../chat/jobs-page.js';
import type { DiscordContext } from '../context.js';
import { requireGuild } from '../guards/manage-guild.js';
import { renderJobsPage } from '../render/jobs.js';
import type { DiscordCommand } from './command.js';

const PAGE_SIZE = 5;

async function renderPage(context: DiscordContext, who: { tenantId: string; userId: string }, page: number): Promise<BaseMessageOptions> {
  return renderJobsPage(await loadJobsPage(context.core, { platform: 'discord', ...who }, page, PAGE_SIZE));
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
