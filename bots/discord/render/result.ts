import { AttachmentBuilder, type BaseMessageOptions } from 'discord.js';
import { escapeUserText, mentionOnly, neutraliseSentence } from './user-text.js';

/** Discord's cap on attachments in one message. */
export const MAX_ATTACHMENTS = 10;

export interface DeliverableFile {
  name: string;
  path: string;
  bytes: number;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Lossy formats shrink to fit by bitrate; lossless ones cannot, so the hint names what would. */
function hintFor(fileName: string): string {
  return /\.(mp3|opus)$/.test(fileName) ? 'even at the lowest bitrate' : 'ask again with format mp3 or opus, which fit';
}

/**
 * The result message: stems attached while they fit under the per-file limit (at most 10); a stem
 * that does not fit is named with the reason and what would. `title` is the source's own
 * (user-controlled); file names are stem names from the model registry, not the user's.
 * `mentionUserId` pings the requester, and only them, where the reply is not theirs already.
 */
export function renderResult(view: { title: string; files: DeliverableFile[]; limitBytes: number; mentionUserId?: string }): BaseMessageOptions {
  const fitting = view.files.filter((file) => file.bytes <= view.limitBytes).slice(0, MAX_ATTACHMENTS);
  const left = view.files.filter((file) => !fitting.includes(file));
  const mention = view.mentionUserId ? `<@${view.mentionUserId}> ` : '';
  const lines = [`${mention}**${escapeUserText(view.title)}** is separated: ${fitting.map((file) => file.name).join(', ') || 'no files could be attached'}.`];
  for (const file of left) {
    lines.push(
      file.bytes > view.limitBytes
        ? `\`${file.name}\` (${mib(file.bytes)}) is over this server's ${mib(view.limitBytes)} upload limit; ${hintFor(file.name)}.`
        : `\`${file.name}\` did not fit: a message holds at most ${MAX_ATTACHMENTS} files.`,
    );
  }
  return {
    content: lines.join('\n'),
    components: [],
    files: fitting.map((file) => new AttachmentBuilder(file.path, { name: file.name })),
    ...(view.mentionUserId ? { allowedMentions: mentionOnly(view.mentionUserId) } : {}),
  };
}

/** A request that failed: the title, and the reason, which the worker may have written around a file name. */
export function renderFailure(view: { title: string; reason?: string }): BaseMessageOptions {
  return { content: `**${escapeUserText(view.title)}** could not be separated: ${neutraliseSentence(view.reason ?? 'something went wrong')}`, components: [] };
}
