import type {
  AutocompleteInteraction,
  ButtonInteraction,
  ChatInputCommandInteraction,
  MessageContextMenuCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
  RESTPostAPIContextMenuApplicationCommandsJSONBody,
} from 'discord.js';
import type { DiscordContext } from '../context.js';

/** One slash command: its definition and its handlers, in one file (see commands/index.ts). */
export interface DiscordCommand {
  definition: RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(interaction: ChatInputCommandInteraction, context: DiscordContext): Promise<void>;
  autocomplete?(interaction: AutocompleteInteraction, context: DiscordContext): Promise<void>;
  /** Buttons whose custom_id starts with `${prefix}:` belong to this command. */
  buttons?: { prefix: string; handle(interaction: ButtonInteraction, argument: string, context: DiscordContext): Promise<void> };
}

/** One message context-menu command (Apps > name, on a message): its definition and its handler. */
export interface DiscordMessageCommand {
  definition: RESTPostAPIContextMenuApplicationCommandsJSONBody;
  execute(interaction: MessageContextMenuCommandInteraction, context: DiscordContext): Promise<void>;
}
