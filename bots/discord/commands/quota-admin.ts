import { MessageFlags, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { SETTABLE_LIMITS } from '../../../core/quotas/limits.js';
import { requireGuild, requireGuildAdmin } from '../guards/manage-guild.js';
import { renderQuota } from '../render/quota.js';
import type { DiscordCommand } from './command.js';

/**
 * `/quota-admin set|reset`. Discord applies default_member_permissions to a whole top-level
 * command, so the admin half of /quota is its own command: hidden from members without Manage
 * Server, and checked again on the server (a client can be modified to show it anyway).
 */
export const quotaAdminCommand: DiscordCommand = {
  definition: new SlashCommandBuilder()
    .setName('quota-admin')
    .setDescription('Change this server’s separation limits')
    .setContexts(0)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addSubcommand((s) =>
      s
        .setName('set')
        .setDescription('Set one limit')
        .addStringOption((o) => o.setName('limit').setDescription('Which limit').setRequired(true).addChoices(...Object.keys(SETTABLE_LIMITS).map((name) => ({ name, value: name }))))
        .addStringOption((o) => o.setName('value').setDescription('New value (minutes, a count, seconds, or model names)').setRequired(true)),
    )
    .addSubcommand((s) => s.setName('reset').setDescription('Back to the bot’s default limits'))
    .toJSON(),
  async execute(interaction, context) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    requireGuildAdmin(interaction);
    const tenant = { platform: 'discord' as const, externalId: requireGuild(interaction), name: interaction.guild?.name };
    if (interaction.options.getSubcommand() === 'reset') await context.core.quota.reset(tenant, interaction.user.id);
    // The limit name is checked by core, not cast: a modified client can send any string.
    else await context.core.quota.set(tenant, interaction.options.getString('limit', true), interaction.options.getString('value', true), interaction.user.id);
    await interaction.editReply({ content: renderQuota({ kind: 'quota', report: await context.core.quota.show(tenant), saved: true }) });
  },
};
