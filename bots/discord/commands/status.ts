import { MessageFlags, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { requireGuildAdmin } from '../guards/manage-guild.js';
import { renderStatus } from '../render/status.js';
import type { DiscordCommand } from './command.js';

/**
 * `/status`: the bot's workers, queue and last hour, for server admins. It shows only aggregate
 * figures and the operator's workers, nothing of any server's requests. Hidden from members without
 * Manage Server, and checked again on the server, as `/quota-admin` is.
 */
export const statusCommand: DiscordCommand = {
  definition: new SlashCommandBuilder()
    .setName('status')
    .setDescription('The bot’s workers, queue and last hour')
    .setContexts(0)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .toJSON(),
  async execute(interaction, context) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    requireGuildAdmin(interaction, 'see the bot’s status');
    await interaction.editReply(renderStatus(await context.core.clusterStatus()));
  },
};
