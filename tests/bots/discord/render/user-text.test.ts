import { describe, expect, it } from 'vitest';
import { planAttachments } from '../../../../bots/chat/attachment-plan.js';
import { renderProgress } from '../../../../bots/discord/render/progress.js';
import { renderRefusal } from '../../../../bots/discord/render/refusal.js';
import { renderFailure, renderResult } from '../../../../bots/discord/render/result.js';
import { escapeUserText, neutraliseSentence } from '../../../../bots/discord/render/user-text.js';
import { liveMarkup } from '../../../support/discord-markup.js';

const HOSTILE = '@everyone FREE NITRO [claim](https://evil.example) <@&123>';
/** What a reader sees of HOSTILE once escaped: the same words, with nothing live in them. */
const SHOWN = '@\u200beveryone FREE NITRO \\[claim](https:\u200b//evil.example) <\u200b@&123>';

describe('user text in Discord messages', () => {
  it('shows a hostile title word for word, with no mention, masked link or preview left live', () => {
    expect(liveMarkup(HOSTILE)).toHaveLength(4);
    expect(escapeUserText(HOSTILE)).toBe(SHOWN);
    expect(liveMarkup(escapeUserText(HOSTILE))).toEqual([]);
  });

  it('escapes every masked link, not just the first, and a backslash cannot undo the escape', () => {
    const shown = escapeUserText('[a](https://x.example) and [b](https://y.example) and \\[c](https://z.example)');
    expect(liveMarkup(shown)).toEqual([]);
  });

  it('keeps a name on one line, so it cannot start a heading, list, quote or subtext of its own', () => {
    expect(escapeUserText('Song\n# FREE NITRO\r\n- claim\u2028> here')).toBe('Song # FREE NITRO - claim > here');
    expect(escapeUserText('# Big')).toBe('\\# Big');
    expect(escapeUserText('-# small')).toBe('\\-# small');
    expect(escapeUserText('> quoted')).toBe('\\> quoted');
    expect(escapeUserText('1. first')).toBe('1\\. first');
  });

  it('escapes markdown so a title reads as written, not restyled', () => {
    expect(escapeUserText('**bold** __under__ ||spoiler|| `code` ~~gone~~')).toBe('\\*\\*bold\\*\\* \\_\\_under\\_\\_ \\|\\|spoiler\\|\\| \\`code\\` \\~\\~gone\\~\\~');
  });

  it('shortens long names to 100 characters with an ellipsis, never splitting a character', () => {
    expect(escapeUserText('a'.repeat(300))).toBe(`${'a'.repeat(99)}…`);
    const emoji = escapeUserText('🎵'.repeat(300));
    expect(Array.from(emoji)).toHaveLength(100);
    expect(emoji.endsWith('🎵…')).toBe(true);
    expect(escapeUserText('Short song')).toBe('Short song');
  });

  it('neutralises a sentence that names a hostile file, keeping our own code formatting', () => {
    const sentence = neutraliseSentence(`${HOSTILE}.mp3 could not be read as audio; send an \`mp3\` file.`);
    expect(sentence).toBe(`${SHOWN}.mp3 could not be read as audio; send an \`mp3\` file.`);
    expect(liveMarkup(sentence)).toEqual([]);
    expect(neutraliseSentence('x\n# FREE NITRO\n-# small')).toBe('x\n\\# FREE NITRO\n\\-# small');
  });
});

describe('Discord renderers with user text', () => {
  it('progress shows the escaped title', () => {
    const message = renderProgress({ kind: 'progress', requestId: 'r', title: HOSTILE, stage: 'separating', fraction: 0.5 });
    expect(message.content?.split('\n')[0]).toBe(`**${SHOWN}**`);
    expect(liveMarkup(message.content ?? '')).toEqual([]);
  });

  it('the result shows the escaped title and pings the requester alone when it mentions them', () => {
    const view = { kind: 'result' as const, title: HOSTILE, requesterId: '1100000000000000101', files: planAttachments([], { limitBytes: 1, maxFiles: 10 }) };
    const mentioned = renderResult(view, { mention: true });
    expect(mentioned.content).toBe(`<@1100000000000000101> **${SHOWN}** is separated: no files could be attached.`);
    expect(mentioned.allowedMentions).toEqual({ parse: [], users: ['1100000000000000101'] });
    expect(renderResult(view, { mention: false }).content).toBe(`**${SHOWN}** is separated: no files could be attached.`);
  });

  it('a failure and a refusal that name a hostile file show nothing live', () => {
    const failure = renderFailure({ kind: 'failure', title: `${HOSTILE}.mp3`, reason: `${HOSTILE}.mp3 has no audio in it.` });
    expect(failure.content).toBe(`**${SHOWN}.mp3** could not be separated: ${SHOWN}.mp3 has no audio in it.`);
    const refusal = renderRefusal({ kind: 'refusal', cause: { type: 'user', code: 'attachment_unreadable', message: `${HOSTILE}.mp3 could not be read as audio.` } });
    expect(refusal.content).toBe(`${SHOWN}.mp3 could not be read as audio.`);
  });
});
