import { MessageFlags, type Interaction, type RepliableInteraction } from 'discord.js';
import { UserError } from '../../core/errors.js';
import { refusalFor } from '../chat/failure-reference.js';
import type { DiscordCommand, DiscordMessageCommand } from './commands/command.js';
import { DISCORD_MESSAGE_COMMANDS } from './commands/index.js';
import type { DiscordContext } from './context.js';
import { renderRefusal } from './render/refusal.js';

/** Answers a failed interaction: ephemeral, one or two sentences; internal errors get a log reference. */
async function answerFailure(interaction: RepliableInteraction, error: unknown, context: DiscordContext): Promise<void> {
  const refusal = refusalFor(error, context.logger, { interactionId: interaction.id });
  const payload = renderRefusal(refusal);
  try {
    if (interaction.deferred || interaction.replied) await interaction.followUp({ ...payload, flags: MessageFlags.Ephemeral });
    else await interaction.reply(payload);
  } catch (replyError) {
    context.logger.warn({ err: (replyError as Error).message, ...(refusal.cause.type === 'internal' ? { reference: refusal.cause.reference } : {}) }, 'could not tell the user about a failure');
  }
}

/**
 * Routes every interaction to its command (by name) or button owner (by custom_id prefix).
 * Message commands (Apps > on a message) are looked up apart: Discord scopes names per command type.
 */
export function createInteractionRouter(
  commands: DiscordCommand[],
  context: DiscordContext,
  messageCommands: DiscordMessageCommand[] = DISCORD_MESSAGE_COMMANDS,
): (interaction: Interaction) => Promise<void> {
  const byName = new Map(commands.map((command) => [command.definition.name, command]));
  const byMessageName = new Map(messageCommands.map((command) => [command.definition.name, command]));
  const byPrefix = new Map(commands.flatMap((command) => (command.buttons ? [[command.buttons.prefix, command] as const] : [])));
  return async (interaction) => {
    if (interaction.isAutocomplete()) {
      await byName.get(interaction.commandName)?.autocomplete?.(interaction, context).catch((error: unknown) => context.logger.warn({ err: (error as Error).message }, 'autocomplete failed'));
      return;
    }
    if (interaction.isChatInputCommand()) {
      const command = byName.get(interaction.commandName);
      if (!command) return answerFailure(interaction, new UserError('unknown_command', 'That command is not mine any more; it may take a minute for Discord to update.'), context);
      await command.execute(interaction, context).catch((error: unknown) => answerFailure(interaction, error, context));
      return;
    }
    if (interaction.isMessageContextMenuCommand()) {
      const command = byMessageName.get(interaction.commandName);
      if (!command) return answerFailure(interaction, new UserError('unknown_command', 'That command is not mine any more; it may take a minute for Discord to update.'), context);
      await command.execute(interaction, context).catch((error: unknown) => answerFailure(interaction, error, context));
      return;
    }
    if (interaction.isButton()) {
      const separator = interaction.customId.indexOf(':');
      const command = byPrefix.get(interaction.customId.slice(0, separator));
      if (!command?.buttons) return;
      await command.buttons.handle(interaction, interaction.customId.slice(separator + 1), context).catch((error: unknown) => answerFailure(interaction, error, context));
    }
  };
}
