/**
 * User-controlled text (video titles, file names) in Slack mrkdwn. Slack reads `<…>` as a mention
 * (`<@U…>`, `<!channel>`, `<!here>`) or a link (`<url|text>`), and `*_~\`` as formatting; it only
 * decodes `&amp;`, `&lt;` and `&gt;`. So `&`, `<` and `>` become entities (every `<…>` form is then
 * plain text), and the formatting marks become look-alike characters: mrkdwn has no backslash
 * escape, and a mark that is not a mark reads the same to a person.
 */

/** Enough of a title or file name to recognise it; longer ones only crowd the message. */
const MAX_NAME_LENGTH = 100;
/** Our own sentences that embed a name stay far under Slack's 3000-character section limit. */
const MAX_SENTENCE_LENGTH = 1000;

/** Line breaks and other control characters: a name stays on one line. */
const CONTROL = /[\p{Cc}\u2028\u2029]+/gu;

const LOOK_ALIKES: Record<string, string> = { '*': '\u2217', _: '\u02cd', '~': '\u223c', '`': '\u02cb' };

/** Cuts to `max` code points (never inside a surrogate pair), marking the cut with an ellipsis. */
function shorten(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/** `&`, `<`, `>` as the entities Slack decodes: no mention, link or special command survives. */
export function escapeEntities(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A title or file name ready to drop into mrkdwn: one line, at most `max` characters, inert. */
export function escapeUserText(raw: string, max = MAX_NAME_LENGTH): string {
  const oneLine = shorten(raw.replaceAll(CONTROL, ' ').trim(), max);
  return escapeEntities(oneLine).replaceAll(/[*_~`]/g, (mark) => LOOK_ALIKES[mark] ?? mark);
}

/**
 * One of our own sentences that may carry a user's text inside it (a refusal naming the uploaded
 * file): entities are escaped so nothing in it pings or links; our words carry no formatting.
 */
export function neutraliseSentence(text: string): string {
  return escapeEntities(shorten(text, MAX_SENTENCE_LENGTH));
}
