import { REST, Routes } from 'discord.js';
import type { DiscordSettings } from './discord-role.js';
import { DISCORD_COMMANDS, DISCORD_MESSAGE_COMMANDS } from './commands/index.js';

/**
 * Bulk-overwrites the bot's slash and message commands: in one guild (instant, for development) or globally
 * (every server; Discord may take a while to show changes).
 */
export async function registerDiscordCommands(settings: DiscordSettings, guildId?: string): Promise<string[]> {
  const rest = new REST(settings.apiUrl ? { api: settings.apiUrl } : {}).setToken(settings.token);
  const route = guildId ? Routes.applicationGuildCommands(settings.applicationId, guildId) : Routes.applicationCommands(settings.applicationId);
  // One overwrite for both kinds: a command left out of the body is deleted.
  const definitions = [...DISCORD_COMMANDS, ...DISCORD_MESSAGE_COMMANDS].map((command) => command.definition);
  await rest.put(route, { body: definitions });
  return definitions.map((definition) => definition.name);
}
