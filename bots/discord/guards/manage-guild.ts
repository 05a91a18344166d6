import { PermissionFlagsBits, type Interaction } from 'discord.js';
import { UserError } from '../../../core/errors.js';

/** Server admins, as Discord defines them for bots: Manage Server (Administrator implies it). */
export function isGuildAdmin(interaction: Interaction): boolean {
  return interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false;
}

/**
 * Precondition for admin-only commands. `default_member_permissions` only hides a command in the
 * client, and a client can be modified: the member's permissions in the interaction itself are
 * checked again here, on the server side.
 */
export function requireGuildAdmin(interaction: Interaction, action = 'change this server’s limits'): void {
  if (!isGuildAdmin(interaction)) throw new UserError('not_admin', `Only members with the Manage Server permission can ${action}.`);
}

/** Every stembot command works inside a server, where quotas live. */
export function requireGuild(interaction: Interaction): string {
  if (!interaction.guildId) throw new UserError('no_guild', 'stembot works inside a server, not in direct messages.');
  return interaction.guildId;
}
