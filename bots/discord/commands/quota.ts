import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import { requireGuild } from '../guards/manage-guild.js';
import { renderQuota } from '../render/quota.js';
import type { DiscordCommand } from './command.js';

/** `/quota show`: for everyone. Changing limits is `/quota-admin` (Manage Server). */
export const quotaCommand: DiscordCommand = {
  definition: new SlashCommandBuilder()
    .setName('quota')
    .setDescription('This server’s separation limits and usage')
    .setContexts(0)
    .addSubcommand((s) => s.setName('show').setDescription('Usage, limits and when they reset'))
    .toJSON(),
  async execute(interaction, context) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const report = await context.core.quota.show({ platform: 'discord', externalId: requireGuild(interaction), name: interaction.guild?.name });
    await interaction.editReply({ content: renderQuota({ kind: 'quota', report, saved: false }) });
  },
};
