import type { StatusReport } from '../../core/workers/status-report.js';

/** One worker line; a worker with many models would otherwise crowd out the others. */
const MAX_WORKER_LINE_LENGTH = 300;
/** Line breaks and other control characters: one worker stays on one line. */
const CONTROL = /[\p{Cc}\u2028\u2029]+/gu;

/** A worker line on one line and at most 300 characters, before a platform escapes it for its code block. */
export function oneWorkerLine(line: string): string {
  const oneLine = line.replaceAll(CONTROL, ' ');
  const chars = Array.from(oneLine);
  return chars.length <= MAX_WORKER_LINE_LENGTH ? oneLine : `${chars.slice(0, MAX_WORKER_LINE_LENGTH - 1).join('')}…`;
}

export interface StatusMarkup {
  /** The headline and figures, escaped and formatted for the platform. */
  head: (report: StatusReport) => string;
  /** A worker line made safe for the platform's code block. */
  codeLine: (line: string) => string;
  /** The worker lines as the platform's code block (after the head). */
  block: (lines: string[]) => string;
  /** The platform's limit on one message's text. */
  maxLength: number;
}

/**
 * `/status` as one message in a platform's markup: the head, then as many worker lines as fit in a
 * code block (worker ids carry the operator's host names), and a count of the workers left out.
 */
export function statusMessage(report: StatusReport, markup: StatusMarkup): string {
  const head = markup.head(report);
  const lines = report.workers.map((line) => markup.codeLine(oneWorkerLine(line)));
  const block = (shown: string[]) => (shown.length > 0 ? markup.block(shown) : '');
  const more = (hidden: number) => (hidden > 0 ? `\n…and ${hidden} more worker${hidden === 1 ? '' : 's'}.` : '');
  let shown = lines.length;
  while (shown > 0 && head.length + block(lines.slice(0, shown)).length + more(lines.length - shown).length > markup.maxLength) shown -= 1;
  return head + block(lines.slice(0, shown)) + more(lines.length - shown);
}
