import { escapeBulletedList, escapeEscape, escapeHeading, escapeMarkdown, escapeNumberedList, type MessageMentionOptions } from 'discord.js';

/**
 * User-controlled text (video titles, file names) in our messages. It is hostile until shown
 * otherwise: it must not ping (`@everyone`, `<@&role>`), hide a link behind words
 * (`[claim](https://…)`), pull in a link preview, or restyle the message around it.
 * Allowed mentions are the real guard against pings; the escaping also keeps them from looking live.
 */

/** Enough of a title or file name to recognise it; longer ones only crowd the message. */
const MAX_NAME_LENGTH = 100;
/** Our own sentences that embed a name stay far under Discord's 2000-character content limit. */
const MAX_SENTENCE_LENGTH = 1000;

/** Nothing in a message pings anyone: the client's and the webhooks' default. */
export const NO_MENTIONS: MessageMentionOptions = { parse: [] };

/** Pings the requester alone, whatever else the content holds. */
export function mentionOnly(userId: string): MessageMentionOptions {
  return { parse: [], users: [userId] };
}

const ZERO_WIDTH_SPACE = '\u200b';
/** Line breaks and other control characters: a name stays on one line of its own message. */
const CONTROL = /[\p{Cc}\u2028\u2029]+/gu;

/** Cuts to `max` code points (never inside a surrogate pair), marking the cut with an ellipsis. */
function shorten(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/**
 * `[text](url)` renders as a link named `text`. discord.js's escapeMaskedLink escapes only the first
 * of several links (its pattern is greedy), so every `[` is escaped. Runs after backslashes are.
 */
const escapeMaskedLinks = (text: string): string => text.replaceAll('[', '\\[');

/** A `scheme:` with a zero-width space after the colon is not linked, so Discord shows no preview card. */
const unlinkUrls = (text: string): string => text.replaceAll(/([a-z][a-z0-9+.-]*):(?=\/\/)/gi, `$1:${ZERO_WIDTH_SPACE}`);

/**
 * `@everyone`/`@here` and every `<…>` form (user, role and channel mentions, slash commands,
 * timestamps) stop being syntax once a zero-width space splits them; they read the same.
 */
const defuseMentions = (text: string): string => text.replaceAll(/@(everyone|here)/gi, `@${ZERO_WIDTH_SPACE}$1`).replaceAll('<', `<${ZERO_WIDTH_SPACE}`);

/** Block quotes and subtext (`-# `) at a line start, which discord.js's escapes leave alone. */
const escapeQuoteAndSubtext = (text: string): string => text.replaceAll(/^([ \t]*)(>|-#)/gm, '$1\\$2');

/**
 * A title or file name, ready to drop into a message: one line, at most `max` characters, every
 * markdown mark escaped (it reads exactly as the user wrote it), no live mention, link or preview.
 */
export function escapeUserText(raw: string, max = MAX_NAME_LENGTH): string {
  const oneLine = shorten(raw.replaceAll(CONTROL, ' ').trim(), max);
  const escaped = escapeMarkdown(oneLine, { heading: true, bulletedList: true, numberedList: true });
  return defuseMentions(unlinkUrls(escapeMaskedLinks(escapeQuoteAndSubtext(escaped))));
}

/**
 * One of our own sentences that may carry a user's text inside it (a refusal or failure naming the
 * uploaded file, written where the name is not known to be hostile, e.g. by the worker): our
 * markdown stays, while mentions, masked links, previews and line-start markers are neutralised.
 */
export function neutraliseSentence(text: string): string {
  const lines = escapeQuoteAndSubtext(escapeNumberedList(escapeBulletedList(escapeHeading(escapeEscape(shorten(text, MAX_SENTENCE_LENGTH))))));
  return defuseMentions(unlinkUrls(escapeMaskedLinks(lines)));
}
