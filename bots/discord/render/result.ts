import { AttachmentBuilder, type BaseMessageOptions } from 'discord.js';
import type { LeftOutReason } from '../../chat/attachment-plan.js';
import type { FailureView, ResultView, StemsLink } from '../../chat/message-view.js';
import { escapeUserText, mentionOnly, neutraliseSentence } from './user-text.js';

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Why a stem is not attached, and what would make it fit. File names are stem names from the model registry, not the user's. */
function leftOutLine(name: string, bytes: number, reason: LeftOutReason, plan: ResultView['files']): string {
  if (reason === 'too_many_files') return `\`${name}\` did not fit: a message holds at most ${plan.maxFiles} files.`;
  const hint = reason === 'too_big_lossy' ? 'even at the lowest bitrate' : 'ask again with format mp3 or opus, which fit';
  return `\`${name}\` (${mib(bytes)}) is over this server's ${mib(plan.limitBytes)} upload limit; ${hint}.`;
}

/** The stems page: what is there, and until when (Discord shows the time in the reader's zone). */
function linkLine(view: ResultView, link: StemsLink): string {
  const { attach, leftOut } = view.files;
  const what = leftOut.length === 0 ? 'Play them together or download them' : attach.length === 0 ? 'Get them' : `Get ${leftOut.map(({ file }) => `\`${file.name}\``).join(', ')}, which ${leftOut.length === 1 ? 'is' : 'are'} too big to attach here,`;
  // <url> in a masked link: no embed, so Discord's crawler never fetches the page.
  return `${what} on the [stems page](<${link.url}>) (a mixer and downloads; the link works until <t:${Math.floor(link.expiresAt.getTime() / 1000)}:f>).`;
}

/**
 * The result message: the planned stems attached (after the waveform picture, when there is one),
 * and for the ones left out either the stems page or a line each saying why. `title` is the
 * source's own (user-controlled). `mention` pings the requester, and only them, where the reply
 * is not theirs already.
 */
export function renderResult(view: ResultView, options: { mention: boolean }): BaseMessageOptions {
  const { attach, leftOut } = view.files;
  const mention = options.mention ? `<@${view.requesterId}> ` : '';
  const attached = attach.map((file) => file.name).join(', ') || (view.link ? 'the stems are on their page' : 'no files could be attached');
  const lines = [`${mention}**${escapeUserText(view.title)}** is separated: ${attached}.`];
  if (view.link) lines.push(linkLine(view, view.link));
  else lines.push(...leftOut.map(({ file, reason }) => leftOutLine(file.name, file.bytes, reason, view.files)));
  const files = [...(view.picture ? [view.picture] : []), ...attach];
  return {
    content: lines.join('\n'),
    components: [],
    files: files.map((file) => new AttachmentBuilder(file.path, { name: file.name })),
    ...(options.mention ? { allowedMentions: mentionOnly(view.requesterId) } : {}),
  };
}

/** A request that failed: the title, and the reason, which the worker may have written around a file name. */
export function renderFailure(view: FailureView): BaseMessageOptions {
  return { content: `**${escapeUserText(view.title)}** could not be separated: ${neutraliseSentence(view.reason ?? 'something went wrong')}`, components: [] };
}
