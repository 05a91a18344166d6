import { REST, Routes } from 'discord.js';
import type { DiscordSettings } from './discord-role.js';
import { DISCORD_COMMANDS } from './commands/index.js';

/**
 * Bulk-overwrites the bot's slash commands: in one guild (instant, for development) or globally
 * (every server; Discord may take a while to show changes).
 */
export async function registerDiscordCommands(settings: DiscordSettings, guildId?: string): Promise<string[]> {
  const rest = new REST(settings.apiUrl ? { api: settings.apiUrl } : {}).setToken(settings.token);
  const route = guildId ? Routes.applicationGuildCommands(settings.applicationId, guildId) : Routes.applicationCommands(settings.applicationId);
  await rest.put(route, { body: DISCORD_COMMANDS.map((command) => command.definition) });
  return DISCORD_COMMANDS.map((command) => command.definition.name);
}
