/**
 * What Discord would treat as live in message content: a mass or id mention, a masked link (a `[`
 * after an even number of backslashes, i.e. not escaped), or a URL it would link and preview.
 * Tests of user-controlled text expect none of these.
 */
export function liveMarkup(content: string): string[] {
  const patterns = [/@(everyone|here)/g, /<(@[!&]?|#)\d+>/g, /(?<=(?:^|[^\\])(?:\\\\)*)\[[^\]\n]*\]\([^)\n]*\)/g, /https?:\/\//g];
  return patterns.flatMap((pattern) => [...content.matchAll(pattern)].map((match) => match[0]));
}
