import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import { isGuildAdmin, requireGuild } from '../guards/manage-guild.js';
import type { DiscordCommand } from './command.js';

export const cancelCommand: DiscordCommand = {
  definition: new SlashCommandBuilder().setName('cancel').setDescription('Cancel your latest separation that is still running').setContexts(0).toJSON(),
  async execute(interaction, context) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const requestId = await context.core.cancelLatest({ platform: 'discord', tenantId: requireGuild(interaction), userId: interaction.user.id }, isGuildAdmin(interaction));
    context.progress.untrack(requestId);
    await interaction.editReply({ content: 'Cancelled. Nothing was charged for it.' });
  },
};
