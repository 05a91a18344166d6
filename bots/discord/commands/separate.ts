import { SlashCommandBuilder, type ButtonInteraction, type ChatInputCommandInteraction } from 'discord.js';
import { modelChoices } from '../../chat/model-choices.js';
import { startRequest } from '../../chat/start-request.js';
import { STEM_CHOICES, buildSubmitInput, type ChatAsk } from '../../chat/submit-input.js';
import type { DiscordContext } from '../context.js';
import { isGuildAdmin, requireGuild } from '../guards/manage-guild.js';
import { discordAskOrigin, discordMessageOf, type DiscordMessage } from '../request-messages.js';
import type { DiscordCommand } from './command.js';

/** Discord shows at most 25 autocomplete choices. */
const MAX_AUTOCOMPLETE_CHOICES = 25;

const definition = new SlashCommandBuilder()
  .setName('separate')
  .setDescription('Split a song into vocals, drums, bass and other')
  .setContexts(0)
  .addStringOption((o) => o.setName('link').setDescription('A YouTube link'))
  .addAttachmentOption((o) => o.setName('file').setDescription('Or an audio file (mp3, m4a, opus, ogg, wav, flac)'))
  .addStringOption((o) => o.setName('stems').setDescription('Which stems (default: all four)').addChoices(...STEM_CHOICES))
  .addStringOption((o) =>
    o.setName('format').setDescription('File format (default: mp3)').addChoices({ name: 'mp3', value: 'mp3' }, { name: 'flac', value: 'flac' }, { name: 'wav', value: 'wav' }, { name: 'opus', value: 'opus' }),
  )
  .addStringOption((o) => o.setName('model').setDescription('Separation model').setAutocomplete(true))
  .addBooleanOption((o) => o.setName('preview').setDescription('Post a short preview while the whole song is separated (default: yes)'));

/** Discord's words for giving a source: its option names. */
const NO_SOURCE_HELP = 'Give a YouTube link (`link:`) or attach an audio file (`file:`). Try /help for examples.';

/** What the interaction asks for, before any of it is trusted (see chat/submit-input.ts). */
function askOf(interaction: ChatInputCommandInteraction, guildId: string, message: DiscordMessage): ChatAsk {
  const file = interaction.options.getAttachment('file');
  return {
    ...discordAskOrigin(interaction, guildId, message),
    link: interaction.options.getString('link') ?? undefined,
    file: file ? { url: file.url, filename: file.name, bytes: file.size } : undefined,
    stems: interaction.options.getString('stems') ?? undefined,
    format: interaction.options.getString('format') ?? undefined,
    model: interaction.options.getString('model') ?? undefined,
    preview: interaction.options.getBoolean('preview') ?? undefined,
  };
}

async function execute(interaction: ChatInputCommandInteraction, context: DiscordContext): Promise<void> {
  // Defer first, well inside Discord's 3 s: looking at the video takes longer than that sometimes.
  await interaction.deferReply();
  const guildId = requireGuild(interaction);
  const message = discordMessageOf(interaction, guildId);
  try {
    await startRequest({ core: context.core, surface: context.messages, progress: context.progress }, buildSubmitInput(askOf(interaction, guildId, message), NO_SOURCE_HELP), message);
  } catch (error) {
    // The deferred reply is public (results go to the channel); refusals are for the asker only.
    await interaction.deleteReply().catch(() => undefined);
    throw error;
  }
}

/** The Cancel button on a progress message: the requester, or an admin of the server it was asked in. */
async function cancelButton(interaction: ButtonInteraction, requestId: string, context: DiscordContext): Promise<void> {
  await context.core.cancel(requestId, { userId: interaction.user.id, isAdmin: isGuildAdmin(interaction), tenant: { platform: 'discord', externalId: requireGuild(interaction) } });
  context.progress.untrack(requestId);
  await interaction.update({ content: `Cancelled by <@${interaction.user.id}>. Nothing was charged.`, components: [] });
}

export const separateCommand: DiscordCommand = {
  definition: definition.toJSON(),
  execute,
  /** Models this guild allows that the bot knows (registry and added ones), matching what was typed. */
  async autocomplete(interaction, context) {
    const allowed = interaction.guildId ? (await context.core.quota.show({ platform: 'discord', externalId: interaction.guildId })).limits.allowedModels : [];
    const models = modelChoices({ allowed, known: await context.knownModels(), typed: interaction.options.getFocused(), max: MAX_AUTOCOMPLETE_CHOICES });
    await interaction.respond(models.map((name) => ({ name, value: name })));
  },
  buttons: { prefix: 'cancel', handle: cancelButton },
};

