import { ApplicationCommandType, ContextMenuCommandBuilder, InteractionContextType, type Attachment, type Message, type MessageContextMenuCommandInteraction } from 'discord.js';
import { startRequest } from '../../chat/start-request.js';
import { buildSubmitInput, type ChatAsk } from '../../chat/submit-input.js';
import { parseYouTubeUrl } from '../../../core/youtube.js';
import type { DiscordContext } from '../context.js';
import { requireGuild } from '../guards/manage-guild.js';
import { discordAskOrigin, discordMessageOf } from '../request-messages.js';
import type { DiscordMessageCommand } from './command.js';

/** Apps > Separate stems on any message: someone else's link or upload, without copying it into /separate. */
const definition = new ContextMenuCommandBuilder().setName('Separate stems').setType(ApplicationCommandType.Message).setContexts(InteractionContextType.Guild);

const NO_SOURCE_HELP = 'That message has no YouTube link or audio file. Use Separate stems on a message that has one, or /separate with `link:` or `file:`.';

/** Web links as Discord shows them: bare, in `<...>` (embed suppressed) or inside markdown `[text](...)`. */
const WEB_LINK = /https?:\/\/[^\s<>()[\]]+/gi;
/** The formats the attachment fetcher reads, for uploads Discord labelled without an audio/* type. */
const AUDIO_EXTENSION = /\.(mp3|m4a|opus|ogg|oga|wav|flac)$/i;

/**
 * The first link to YouTube in the text, as pasted. A YouTube link core would refuse (a playlist,
 * a channel) still counts, so the user hears why rather than "no link".
 */
function firstYouTubeLink(content: string): string | undefined {
  return content.match(WEB_LINK)?.find((link) => {
    const parsed = parseYouTubeUrl(link);
    return parsed.ok || (parsed.code !== 'not_youtube' && parsed.code !== 'not_a_link');
  });
}

function firstAudioAttachment(message: Message): Attachment | undefined {
  return message.attachments.find((file) => Boolean(file.contentType?.startsWith('audio/')) || AUDIO_EXTENSION.test(file.name));
}

/** The message's source: its first YouTube link, else its first audio attachment (one source, never both). */
function sourceIn(target: Message): Pick<ChatAsk, 'link' | 'file'> {
  const link = firstYouTubeLink(target.content);
  if (link) return { link };
  const file = firstAudioAttachment(target);
  return file ? { file: { url: file.url, filename: file.name, bytes: file.size } } : {};
}

async function execute(interaction: MessageContextMenuCommandInteraction, context: DiscordContext): Promise<void> {
  const guildId = requireGuild(interaction);
  const message = discordMessageOf(interaction, guildId);
  // Built before deferring: a message with nothing to separate is refused to the asker alone,
  // without a public "thinking…" first. Reading the message text takes no time.
  const input = buildSubmitInput(
    { ...discordAskOrigin(interaction, guildId, message), ...sourceIn(interaction.targetMessage) },
    NO_SOURCE_HELP,
  );
  await interaction.deferReply();
  try {
    await startRequest({ core: context.core, surface: context.messages, progress: context.progress }, input, message);
  } catch (error) {
    // As /separate: the deferred reply is public, refusals are for the asker only.
    await interaction.deleteReply().catch(() => undefined);
    throw error;
  }
}

export const separateMessageCommand: DiscordMessageCommand = { definition: definition.toJSON(), execute };
