import { AttachmentBuilder, type BaseMessageOptions } from 'discord.js';
import type { LeftOutReason } from '../../chat/attachment-plan.js';
import type { FailureView, ResultView } from '../../chat/message-view.js';
import { escapeUserText, mentionOnly, neutraliseSentence } from './user-text.js';

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Why a stem is not attached, and what would make it fit. File names are stem names from the model registry, not the user's. */
function leftOutLine(name: string, bytes: number, reason: LeftOutReason, plan: ResultView['files']): string {
  if (reason === 'too_many_files') return `\`${name}\` did not fit: a message holds at most ${plan.maxFiles} files.`;
  const hint = reason === 'too_big_lossy' ? 'even at the lowest bitrate' : 'ask again with format mp3 or opus, which fit';
  return `\`${name}\` (${mib(bytes)}) is over this server's ${mib(plan.limitBytes)} upload limit; ${hint}.`;
}

/**
 * The result message: the planned stems attached, and a line for each one left out. `title` is the
 * source's own (user-controlled). `mention` pings the requester, and only them, where the reply is
 * not theirs already.
 */
export function renderResult(view: ResultView, options: { mention: boolean }): BaseMessageOptions {
  const { attach, leftOut } = view.files;
  const mention = options.mention ? `<@${view.requesterId}> ` : '';
  const lines = [`${mention}**${escapeUserText(view.title)}** is separated: ${attach.map((file) => file.name).join(', ') || 'no files could be attached'}.`];
  lines.push(...leftOut.map(({ file, reason }) => leftOutLine(file.name, file.bytes, reason, view.files)));
  return {
    content: lines.join('\n'),
    components: [],
    files: attach.map((file) => new AttachmentBuilder(file.path, { name: file.name })),
    ...(options.mention ? { allowedMentions: mentionOnly(view.requesterId) } : {}),
  };
}

/** A request that failed: the title, and the reason, which the worker may have written around a file name. */
export function renderFailure(view: FailureView): BaseMessageOptions {
  return { content: `**${escapeUserText(view.title)}** could not be separated: ${neutraliseSentence(view.reason ?? 'something went wrong')}`, components: [] };
}
