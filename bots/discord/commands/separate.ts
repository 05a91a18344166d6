import { SlashCommandBuilder, type ButtonInteraction, type ChatInputCommandInteraction } from 'discord.js';
import { UserError } from '../../../core/errors.js';
import type { RequestOptions } from '../../../core/db/entities/separation-request.js';
import type { SubmitInput } from '../../../core/requests/submit.js';
import { parseYouTubeUrl } from '../../../core/youtube.js';
import type { DiscordContext } from '../context.js';
import { isGuildAdmin, requireGuild } from '../guards/manage-guild.js';
import { renderProgress } from '../render/progress.js';
import type { DiscordMessage } from '../request-messages.js';
import type { DiscordCommand } from './command.js';

const STEM_CHOICES = [
  { name: 'All four stems', value: 'all' },
  { name: 'Karaoke: vocals + accompaniment', value: 'karaoke' },
  { name: 'Vocals + the rest', value: 'vocals' },
  { name: 'Drums + the rest', value: 'drums' },
  { name: 'Bass + the rest', value: 'bass' },
  { name: 'Other + the rest', value: 'other' },
];

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
  .addStringOption((o) => o.setName('model').setDescription('Separation model').setAutocomplete(true));

function stemOptions(choice: string | null): Pick<RequestOptions, 'stems' | 'stem'> {
  if (!choice || choice === 'all') return { stems: 'all' };
  if (choice === 'karaoke') return { stems: 'karaoke' };
  // Discord only sends a listed choice; anything else is a forged interaction, and the stem later
  // picks a stored file, so it is refused here in the command's own words.
  if (!STEM_CHOICES.some((listed) => listed.value === choice)) {
    throw new UserError('unknown_stem', `Pick one of the offered stems: ${STEM_CHOICES.map((listed) => listed.value).join(', ')}.`);
  }
  return { stems: 'single', stem: choice };
}

function sourceOf(interaction: ChatInputCommandInteraction): SubmitInput['source'] {
  const link = interaction.options.getString('link');
  const file = interaction.options.getAttachment('file');
  if (link && file) throw new UserError('two_sources', 'Give either a link or a file, not both.');
  if (file) return { kind: 'attachment', platform: 'discord', url: file.url, filename: file.name, bytes: file.size };
  if (!link) throw new UserError('no_source', 'Give a YouTube link (`link:`) or attach an audio file (`file:`). Try /help for examples.');
  const parsed = parseYouTubeUrl(link);
  if (!parsed.ok) throw new UserError(parsed.code, parsed.message);
  return { kind: 'youtube', videoId: parsed.videoId, ...(parsed.startSeconds ? { startSeconds: parsed.startSeconds } : {}) };
}

async function execute(interaction: ChatInputCommandInteraction, context: DiscordContext): Promise<void> {
  // Defer first, well inside Discord's 3 s: looking at the video takes longer than that sometimes.
  await interaction.deferReply();
  const guildId = requireGuild(interaction);
  const message: DiscordMessage = {
    applicationId: interaction.applicationId,
    interactionToken: interaction.token,
    interactionAt: interaction.createdTimestamp,
    guildId,
    channelId: interaction.channelId,
  };
  try {
    const outcome = await context.core.submit({
      platform: 'discord',
      tenantId: guildId,
      tenantName: interaction.guild?.name,
      userId: interaction.user.id,
      channelId: interaction.channelId,
      platformMessage: message,
      source: sourceOf(interaction),
      model: interaction.options.getString('model') ?? undefined,
      options: { ...stemOptions(interaction.options.getString('stems')), format: (interaction.options.getString('format') ?? 'mp3') as RequestOptions['format'], maxFileBytes: interaction.attachmentSizeLimit },
    });
    const view = { requestId: outcome.requestId, title: outcome.title, stage: 'queued' as const, fraction: 0, position: outcome.position };
    // Through the request's own queue, so a fast result is never overwritten by this first edit.
    const shown = await context.messages.show(message, renderProgress(view));
    await context.core.rememberMessage(outcome.requestId, shown);
    context.progress.track(view);
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
    const typed = interaction.options.getFocused().toLowerCase();
    const known = new Set(await context.knownModels());
    const allowed = interaction.guildId ? (await context.core.quota.show({ platform: 'discord', externalId: interaction.guildId })).limits.allowedModels : [];
    const models = allowed.filter((name) => known.has(name) && name.toLowerCase().includes(typed)).slice(0, 25);
    await interaction.respond(models.map((name) => ({ name, value: name })));
  },
  buttons: { prefix: 'cancel', handle: cancelButton },
};

