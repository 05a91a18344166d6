import type { LeftOutReason } from '../../chat/attachment-plan.js';
import type { FailureView, ResultView, StemsLink } from '../../chat/message-view.js';
import { escapeUserText, neutraliseSentence } from './mrkdwn.js';
import { section, type SlackPayload } from './payload.js';

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Why a stem is not uploaded. File names are stem names from the model registry, not the user's. */
function leftOutLine(name: string, bytes: number, reason: LeftOutReason, plan: ResultView['files']): string {
  if (reason === 'too_many_files') return `\`${name}\` did not fit: one upload holds at most ${plan.maxFiles} files.`;
  const hint = reason === 'too_big_lossy' ? 'even at the lowest bitrate' : 'ask again with format mp3 or opus, which fit';
  return `\`${name}\` (${mib(bytes)}) is over the ${mib(plan.limitBytes)} upload limit; ${hint}.`;
}

/** The stems page: what is there, and until when (Slack shows the date in the reader's zone). */
function linkLine(view: ResultView, link: StemsLink): string {
  const { attach, leftOut } = view.files;
  const what = leftOut.length === 0 ? 'Play them together or download them' : attach.length === 0 ? 'Get them' : `Get ${leftOut.map(({ file }) => `\`${file.name}\``).join(', ')}, which ${leftOut.length === 1 ? 'is' : 'are'} too big to upload,`;
  const unix = Math.floor(link.expiresAt.getTime() / 1000);
  return `${what} on the <${link.url}|stems page> (a mixer and downloads; the link works until <!date^${unix}^{date_short_pretty} {time}|${link.expiresAt.toISOString()}>).`;
}

/** The request's message once done; the stems themselves go into its thread (see request-messages.ts). */
export function renderResult(view: ResultView): SlackPayload {
  const { attach, leftOut } = view.files;
  const title = escapeUserText(view.title);
  const head =
    attach.length > 0
      ? `*${title}* is separated: ${attach.map((file) => file.name).join(', ')} in the thread.`
      : view.link
        ? `*${title}* is separated.`
        : `*${title}* is separated, but no files could be uploaded.`;
  const lines = [head, ...(view.link ? [linkLine(view, view.link)] : leftOut.map(({ file, reason }) => leftOutLine(file.name, file.bytes, reason, view.files)))];
  return { text: `${title} is separated`, blocks: [section(lines.join('\n'))] };
}

/** The comment on the stems' upload: it pings the requester, the one mention a result carries. */
export function renderStemsComment(view: ResultView): string {
  return `<@${view.requesterId}> your stems of *${escapeUserText(view.title)}*`;
}

/** A request that failed: the title, and the reason, which may have been written around a file name. */
export function renderFailure(view: FailureView): SlackPayload {
  const text = `*${escapeUserText(view.title)}* could not be separated: ${neutraliseSentence(view.reason ?? 'something went wrong')}`;
  return { text, blocks: [section(text)] };
}

/** What replaces the progress message when someone cancels it. */
export function renderCancelled(userId: string): SlackPayload {
  const text = `Cancelled by <@${userId}>. Nothing was charged.`;
  return { text, blocks: [section(text)] };
}
