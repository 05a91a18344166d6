import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { parseYouTubeUrl } from '../../core/youtube.js';
import { startRequest } from '../chat/start-request.js';
import { STEM_CHOICES, buildSubmitInput, type ChatAsk } from '../chat/submit-input.js';
import type { SlackContext } from './context.js';
import type { SlackMessage } from './request-messages.js';

const FORMATS = ['mp3', 'flac', 'wav', 'opus'];
const AUDIO_EXTENSIONS = /\.(mp3|m4a|opus|ogg|oga|wav|flac|aac|webm)$/i;

/** Slack's words for giving a source: the command's shape, and the shortcut for files. */
const NO_SOURCE_HELP = 'Give a YouTube link: `/separate https://youtu.be/… [stems] [format] [preview:false]`. For your own audio file, use the message shortcut *Separate stems* on it.';
/** `preview:false` (or no, off) asks for no preview; `preview:true` (yes, on) is the default, said out loud. */
const PREVIEW_WORD = /^preview:(true|yes|on|false|no|off)$/i;

/** A file as Slack describes it in a message; only these fields are used. */
export const slackFileSchema = z.object({
  name: z.string(),
  size: z.number(),
  mimetype: z.string().optional(),
  url_private_download: z.string().optional(),
});
export type SlackFile = z.infer<typeof slackFileSchema>;

/** `<https://…|label>` (how Slack sends links it recognised) or a bare URL. */
const LINK = /<(https?:\/\/[^|>\s]+)(?:\|[^>]*)?>|(https?:\/\/\S+)/g;

/** Every link in a message's text, in order. */
export function linksIn(text: string): string[] {
  return [...text.matchAll(LINK)].map((match) => match[1] ?? match[2] ?? '').filter(Boolean);
}

/** The first link that is a YouTube one, else the first link (its refusal then says why). */
export function pickLink(text: string): string | undefined {
  const links = linksIn(text);
  return links.find((link) => parseYouTubeUrl(link).ok) ?? links[0];
}

/** The first audio file of a message's files, as the submit input takes it. */
export function pickAudioFile(files: SlackFile[] | undefined): ChatAsk['file'] {
  const file = files?.find((candidate) => candidate.url_private_download && (candidate.mimetype?.startsWith('audio/') || AUDIO_EXTENSIONS.test(candidate.name)));
  return file?.url_private_download ? { url: file.url_private_download, filename: file.name, bytes: file.size } : undefined;
}

/**
 * `<link> [stems] [format] [preview:false]` as typed after `/separate` or `@stembot`. Mentions of people
 * (`<@U…>`) are skipped; any other word is refused naming what is accepted, rather than silently ignored.
 */
export function parseSeparateText(text: string): Pick<ChatAsk, 'link' | 'stems' | 'format' | 'preview'> {
  const parsed: Pick<ChatAsk, 'link' | 'stems' | 'format' | 'preview'> = {};
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const link = linksIn(word)[0];
    const preview = PREVIEW_WORD.exec(word)?.[1]?.toLowerCase();
    if (link) parsed.link ??= link;
    else if (STEM_CHOICES.some((choice) => choice.value === word.toLowerCase())) parsed.stems = word.toLowerCase();
    else if (FORMATS.includes(word.toLowerCase())) parsed.format = word.toLowerCase();
    else if (preview) parsed.preview = ['true', 'yes', 'on'].includes(preview);
    else if (!/^<[@!#]/.test(word)) {
      throw new UserError(
        'unknown_stem',
        `I don’t understand “${word}”. Use \`/separate <YouTube link> [stems] [format] [preview:false]\`: stems ${STEM_CHOICES.map((choice) => choice.value).join(', ')}; format ${FORMATS.join(', ')}; preview:false posts no preview first.`,
      );
    }
  }
  return parsed;
}

/** An ask from any of Slack's ways: where to show it, who asked, and what they gave. */
export interface SlackAsk extends Pick<ChatAsk, 'link' | 'file' | 'stems' | 'format' | 'preview' | 'tenantName'> {
  teamId: string;
  channelId: string;
  userId: string;
  /** Where the request's message goes as a reply: the message the ask was made on. */
  threadTs?: string;
}

/** Every way of asking ends here: submit, post the request's message, keep it current. Refusals throw. */
export async function startSlackRequest(context: SlackContext, ask: SlackAsk): Promise<void> {
  const message: SlackMessage = { teamId: ask.teamId, channelId: ask.channelId, userId: ask.userId, key: randomUUID(), ...(ask.threadTs ? { threadTs: ask.threadTs } : {}) };
  const input = buildSubmitInput(
    { platform: 'slack', tenantId: ask.teamId, tenantName: ask.tenantName, userId: ask.userId, channelId: ask.channelId, platformMessage: message, link: ask.link, file: ask.file && { ...ask.file, teamId: ask.teamId }, stems: ask.stems, format: ask.format, preview: ask.preview },
    NO_SOURCE_HELP,
  );
  await startRequest({ core: context.core, surface: context.messages, progress: context.progress }, input, message);
}
